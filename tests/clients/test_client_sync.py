"""HireClient against the fake server on a real port: every method, auth, errors, retries."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from hireserve.clients.client import HireClient
from hireserve.clients.errors import HireError
from hireserve.clients.retry import RetryPolicy
from hireserve.v1 import common_pb2, screening_pb2
from tests.clients.fake_server import FakeServer, rich_status, score

JD = "Senior Python engineer: gRPC, PostgreSQL, Kubernetes, Kafka."
RESUME = "Jane Roe. Eight years of Python and gRPC services on Kubernetes."


def test_screen_text_and_path(fake: FakeServer, tmp_path: Path) -> None:
    with HireClient(fake.target) as client:
        r = client.screen(JD, RESUME, output_language="en")
        assert isinstance(r, screening_pb2.ScreenResponse)
        assert r.match_score == score(JD, RESUME) > 0
        assert set(r.skills_matched) == {"python", "grpc", "kubernetes"}
        path = tmp_path / "jane.md"
        path.write_text(RESUME)
        jd_path = tmp_path / "jd.txt"
        jd_path.write_text(JD, encoding="utf-16")  # a Path JD is read as text, BOM honoured
        from_path = client.screen(jd_path, path)
    assert from_path.match_score == r.match_score
    assert from_path.document.format == "markdown"  # the fake saw the file name


def test_document_from_path_sets_filename_and_media_type(tmp_path: Path) -> None:
    from hireserve.clients.documents import to_document

    pdf = tmp_path / "cv.PDF"
    pdf.write_bytes(b"%PDF-1.4 ...")
    doc = to_document(pdf)
    assert (doc.filename, doc.media_type, doc.data) == ("cv.PDF", "application/pdf",
                                                        b"%PDF-1.4 ...")
    assert to_document("plain text").text == "plain text"
    assert to_document(b"raw").data == b"raw"
    with pytest.raises(TypeError):
        to_document(42)  # type: ignore[arg-type]


def test_screen_batch_streams_results_then_ranking(fake: FakeServer) -> None:
    resumes = {"a": "Python only.", "b": RESUME, "bad": b"\x80\x81\x82 not utf-8"}
    with HireClient(fake.target) as client:
        events = list(client.screen_batch(JD, resumes))
    results = {e.result.resume_id: e.result for e in events[:-1]}
    assert set(results) == {"a", "b", "bad"}
    assert events[-1].WhichOneof("event") == "ranking"
    assert [r.resume_id for r in events[-1].ranking.ranked] == ["b", "a"]
    assert results["b"].response.match_score == score(JD, RESUME)
    error = HireError.from_status(results["bad"].error)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "resumes[2].resume"


def test_screen_batch_list_gets_index_ids(fake: FakeServer) -> None:
    with HireClient(fake.target) as client:
        events = list(client.screen_batch(JD, ["Python", "Kafka and Python"]))
    assert {e.result.resume_id for e in events if e.HasField("result")} == {"0", "1"}


def test_generate_questions(fake: FakeServer) -> None:
    with HireClient(fake.target) as client:
        r = client.generate_questions(RESUME, job_description=JD, num_questions=6)
        assert len(r.questions) == 6
        kinds = [q.type for q in r.questions]
        assert kinds.count(screening_pb2.QUESTION_TYPE_BEHAVIOURAL) == 1
        with pytest.raises(HireError) as info:
            client.generate_questions(RESUME, num_questions=2,
                                      mix={"technical": 2, "behavioural": 1})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.field == "num_questions"
    assert info.value.attempts == 1  # not retried


def test_generate_prompt_and_chat(fake: FakeServer) -> None:
    with HireClient(fake.target) as client:
        chunks = list(client.generate("hello world", max_tokens=8))
        assert "".join(c.text for c in chunks) == "HELLO WO"
        assert chunks[-1].finish_reason == common_pb2.FINISH_REASON_LENGTH
        assert chunks[-1].usage.generated_tokens == 8
        chat = list(client.generate([("system", "be brief"), {"role": "user", "content": "hi"}],
                                    max_tokens=100))
        assert "".join(c.text for c in chat) == "BE BRIEF HI"
        with pytest.raises(HireError) as info:
            list(client.generate([("robot", "beep")]))
    assert info.value.field == "chat.messages[0].role"


def test_model_info_and_health(fake: FakeServer) -> None:
    with HireClient(fake.target) as client:
        info = client.model_info()
        assert (info.context_length, info.tensor_parallel_size) == (32768, 1)
        assert client.health().status == 1  # SERVING
        with pytest.raises(HireError) as info_err:
            client.health("no.such.Service")
    assert info_err.value.code == grpc.StatusCode.NOT_FOUND


def test_token_and_request_id_metadata(fake: FakeServer) -> None:
    fake.script.token = "s3cret"
    with HireClient(fake.target, token="s3cret") as client:
        client.model_info()
    _, metadata, _ = fake.script.calls[-1]
    assert metadata["authorization"] == "Bearer s3cret"
    assert len(metadata["x-request-id"]) == 16
    with HireClient(fake.target, token="wrong") as client, pytest.raises(HireError) as info:
        client.model_info()
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "s3cret" not in repr(HireClient(fake.target, token="s3cret").settings)


def test_invalid_argument_surfaces_field_violation(fake: FakeServer) -> None:
    with HireClient(fake.target) as client, pytest.raises(HireError) as info:
        client.screen(JD, b"\x80\x81 garbage")
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.field_violations[0].field == "resume"
    assert "[field resume]" in err.one_line() and "INVALID_ARGUMENT" in err.one_line()
    assert len(fake.script.times("Screen")) == 1


def test_retry_honours_retry_info_then_succeeds(fake: FakeServer) -> None:
    hint = 0.4
    fake.script.fail_next("Screen", rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                "queue full", retry_after_s=hint))
    # Backoff without a hint would be 10 ms: a wait near 0.4 s proves the hint was used.
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01)
    with HireClient(fake.target, retry=policy) as client:
        r = client.screen(JD, RESUME)
    assert r.match_score == score(JD, RESUME)
    first, second = fake.script.times("Screen")
    assert hint <= second - first < hint + 0.3
    ids = {m["x-request-id"] for name, m, _ in fake.script.calls if name == "Screen"}
    assert len(ids) == 1  # one logical call, one request id across attempts


def test_retry_gives_up_after_max_attempts(fake: FakeServer) -> None:
    fake.script.fail_next("GetModelInfo", rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                      "queue full", retry_after_s=0.05), times=9)
    started = time.monotonic()
    with HireClient(fake.target, retry=RetryPolicy(max_attempts=3)) as client, \
            pytest.raises(HireError) as info:
        client.model_info()
    assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert info.value.retry_delay == pytest.approx(0.05)
    assert info.value.attempts == 3
    assert len(fake.script.times("GetModelInfo")) == 3
    assert time.monotonic() - started >= 0.1  # two waits of the hint


def test_unavailable_without_hint_uses_backoff(fake: FakeServer) -> None:
    fake.script.fail_next("Generate", rich_status(grpc.StatusCode.UNAVAILABLE, "draining"),
                          times=2)
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.02, multiplier=2.0)
    with HireClient(fake.target, retry=policy, sleep=waits.append) as client:
        text = "".join(c.text for c in client.generate("abc"))
    assert text == "ABC"
    assert len(waits) == 2
    assert 0.01 <= waits[0] <= 0.02 and 0.02 <= waits[1] <= 0.04  # jitter in [0.5, 1]


def test_stream_closed_early_cancels(fake: FakeServer) -> None:
    with HireClient(fake.target) as client:
        stream = client.generate("a long prompt to stream", max_tokens=30)
        first = next(stream)
        stream.close()  # type: ignore[attr-defined]
    assert first.text == "A L"
