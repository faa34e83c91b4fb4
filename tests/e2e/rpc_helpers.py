"""Reading google.rpc rich errors out of a failed call."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def rich(err: grpc.RpcError):
    """(code, message, field violations {field: description}, retry delay seconds or None)."""
    status = rpc_status.from_call(err)
    fields: dict[str, str] = {}
    retry = None
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields.update({v.field: v.description for v in bad.field_violations})
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                retry = info.retry_delay.ToTimedelta().total_seconds()
    return err.code(), err.details(), fields, retry


def status_fields(status) -> dict[str, str]:
    """Field violations of a google.rpc.Status message (a ScreenBatch per-resume error)."""
    out: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.update({v.field: v.description for v in bad.field_violations})
    return out
