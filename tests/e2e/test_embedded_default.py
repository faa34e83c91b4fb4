"""The embedded default model (SmolLM2-135M-Instruct, real weights from the GGUF) answers every
typed RPC within its schema. Slow on a CPU: one resume each, short documents."""

from __future__ import annotations

import pytest
from server_thread import ServerThread

from hireserve.server.engine.args import EngineArgs
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

pytestmark = pytest.mark.slow

JD = "Backend engineer: Rust, PostgreSQL, Kubernetes."
RESUME = "Jane Doe. Senior engineer: 8 years of Rust and PostgreSQL at Acme."


@pytest.fixture(scope="module")
def default_server():
    s = ServerThread(EngineArgs(model="default", dtype="float32", device="cpu",
                                num_kv_blocks=1024, max_num_batched_tokens=1024))
    yield s
    s.stop()


def test_screen_batch_and_questions_with_the_embedded_model(default_server) -> None:
    stub = screening_pb2_grpc.ScreeningServiceStub(default_server.channel())
    resumes = [screening_pb2.BatchResume(resume_id=str(i),
                                         resume=common_pb2.Document(text=f"{RESUME} #{i}"))
               for i in range(2)]
    messages = list(stub.ScreenBatch(screening_pb2.ScreenBatchRequest(
        job_description=JD, resumes=resumes), timeout=900))
    results = [m.result.response for m in messages[:-1]]
    assert len(results) == 2 and all(0 <= r.match_score <= 100 for r in results)
    assert max(r.usage.cached_prompt_tokens for r in results) > 0
    assert results[0].model == "SmolLM2-135M-Instruct"
    questions = stub.GenerateQuestions(screening_pb2.GenerateQuestionsRequest(
        resume=common_pb2.Document(text=RESUME), num_questions=5), timeout=900)
    assert len(questions.questions) == 5
    assert all(q.type != screening_pb2.QUESTION_TYPE_UNSPECIFIED for q in questions.questions)
