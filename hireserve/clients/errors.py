"""`HireError`: every failed call surfaces as one typed exception with the server's rich details.

The server encodes errors as google.rpc.Status in the `grpc-status-details-bin` trailer
(grpcio-status): BadRequest field violations for bad input, RetryInfo for overload. A failed
resume inside a ScreenBatch stream carries the same Status inline; `HireError.from_status`
reads both the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

# google.rpc.Code numbers -> grpc.StatusCode (the enum's value is (number, name)).
_CODES = {c.value[0]: c for c in grpc.StatusCode}


@dataclass(frozen=True)
class FieldViolation:
    """One BadRequest field violation: which request field was wrong and why."""

    field: str
    description: str


@dataclass
class HireError(Exception):
    """A call that failed: gRPC code, the server's message and its rich details.

    `retry_delay` (seconds) is the server's RetryInfo hint, when it sent one. `attempts` counts
    the calls the client made (retries included) before giving up. `request_id` is the
    x-request-id the client sent, so the failure can be found in the server's logs.
    """

    code: grpc.StatusCode
    message: str
    field_violations: tuple[FieldViolation, ...] = ()
    retry_delay: float | None = None
    attempts: int = 1
    request_id: str = ""
    details: tuple[str, ...] = field(default=(), repr=False)  # type URLs of unread details

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.one_line()

    @property
    def field(self) -> str | None:
        """The first violated field, the one most callers want."""
        return self.field_violations[0].field if self.field_violations else None

    def one_line(self) -> str:
        """`CODE: message [field: description; ...]` on a single line (CLI stderr)."""
        text = f"{self.code.name}: {self.message}"
        if self.field_violations:
            # The server usually repeats its message as the description: show it once.
            fields = "; ".join(
                v.field if v.description in ("", self.message) else f"{v.field}: {v.description}"
                for v in self.field_violations
            )
            text += f" [field {fields}]"
        if self.retry_delay is not None:
            text += f" (retry after {self.retry_delay:g}s)"
        return " ".join(text.split())  # newlines in a server message must not break one line

    @classmethod
    def from_status(cls, status: status_pb2.Status, **extra: object) -> HireError:
        """From a google.rpc.Status message (a trailer, or a per-resume batch error)."""
        violations: list[FieldViolation] = []
        retry_delay: float | None = None
        unread: list[str] = []
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description)
                               for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                retry_delay = info.retry_delay.ToTimedelta().total_seconds()
            else:
                unread.append(detail.type_url)
        code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
        return cls(code, status.message, tuple(violations), retry_delay,
                   details=tuple(unread), **extra)  # type: ignore[arg-type]

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, *, request_id: str = "") -> HireError:
        """From a failed call (sync `grpc.RpcError` or `grpc.aio.AioRpcError`)."""
        try:
            status = rpc_status.from_call(error)
        except ValueError:  # a trailer that disagrees with the call's code: trust the call
            status = None
        if status is not None:
            return cls.from_status(status, request_id=request_id)
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        return cls(code or grpc.StatusCode.UNKNOWN, details or "", request_id=request_id)
