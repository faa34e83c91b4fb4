"""HireError parsing of google.rpc.Status and the retry policy's arithmetic."""

from __future__ import annotations

import random

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from hireserve.clients.errors import FieldViolation, HireError
from hireserve.clients.retry import RetryPolicy
from tests.clients.fake_server import rich_status


def test_from_status_reads_bad_request_and_retry_info() -> None:
    status = rich_status(grpc.StatusCode.INVALID_ARGUMENT, "bad pdf", field="resume.data",
                         retry_after_s=1.5)
    extra = any_pb2.Any()
    extra.Pack(error_details_pb2.ErrorInfo(reason="X"))
    status.details.append(extra)
    err = HireError.from_status(status)
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.field_violations == (FieldViolation("resume.data", "bad pdf"),)
    assert err.retry_delay == 1.5
    assert err.details == ("type.googleapis.com/google.rpc.ErrorInfo",)
    assert err.one_line() == ("INVALID_ARGUMENT: bad pdf [field resume.data] "
                              "(retry after 1.5s)")


def test_one_line_keeps_distinct_descriptions_and_flattens_newlines() -> None:
    bad = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="a", description="too long"),
        error_details_pb2.BadRequest.FieldViolation(field="b", description="")])
    packed = any_pb2.Any()
    packed.Pack(bad)
    status = status_pb2.Status(code=3, message="two\nproblems", details=[packed])
    assert HireError.from_status(status).one_line() == (
        "INVALID_ARGUMENT: two problems [field a: too long; b]")


def test_unknown_code_maps_to_unknown() -> None:
    assert HireError.from_status(status_pb2.Status(code=999)).code == grpc.StatusCode.UNKNOWN


def test_policy_hint_wins_and_is_capped() -> None:
    policy = RetryPolicy(max_hint=2.0)
    hinted = HireError(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", retry_delay=0.7)
    assert policy.delay(hinted, 1) == 0.7
    assert policy.delay(HireError(grpc.StatusCode.UNAVAILABLE, "", retry_delay=60), 1) == 2.0


def test_policy_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff=0.1, multiplier=3.0, max_backoff=0.5)
    err = HireError(grpc.StatusCode.UNAVAILABLE, "down")
    rng = random.Random(0)
    for attempt, full in ((1, 0.1), (2, 0.3), (3, 0.5), (9, 0.5)):
        d = policy.delay(err, attempt, rng)
        assert full * 0.5 <= d <= full


@pytest.mark.parametrize(("code", "attempt", "expected"), [
    (grpc.StatusCode.UNAVAILABLE, 1, True),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 3, True),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 4, False),  # max_attempts reached
    (grpc.StatusCode.INVALID_ARGUMENT, 1, False),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 1, False),  # the work may still be running
    (grpc.StatusCode.UNAUTHENTICATED, 1, False),
])
def test_policy_retries_only_transient_codes(code: grpc.StatusCode, attempt: int,
                                             expected: bool) -> None:
    assert RetryPolicy(max_attempts=4).should_retry(HireError(code, ""), attempt) is expected
