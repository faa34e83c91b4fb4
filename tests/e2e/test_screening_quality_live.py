"""The embedded Qwen2.5-Coder-0.5B orders a clearly matching and a clearly unrelated resume
correctly through the real RPC (issue 14): one ScreenBatch of two short resumes against an
English job description with "Requirements" / "Nice to have" headings (four requirements, no
heading left to the model), in the default dtype.

Measured on the 2-core dev VM (bf16, load average ~4): the matching resume 55, the unrelated one
5, about 15 s for the batch. The margin asserted is 10 points: a model that cannot tell a
backend engineer from a pastry chef fails it.
"""

from __future__ import annotations

import pytest
from screen_checks import MUST, NICE, check_screen
from server_thread import ServerThread

from hireserve.server.engine.args import EngineArgs
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

pytestmark = pytest.mark.slow

MARGIN = 10

JD = """Backend Engineer (Python)

Requirements:
- 4+ years building backend services in Python
- PostgreSQL: schema design and query tuning
- Running services on Kubernetes in production

Nice to have:
- Kafka or another event streaming system
"""
MATCHING = """Experience
Senior Backend Engineer, Paystream, 2018 - present
- Build and run the payment APIs in Python (FastAPI, asyncio) serving 3,000 requests per second.
- Designed the PostgreSQL schema for the ledger; tuned slow queries with EXPLAIN ANALYZE.
- Run all services on Kubernetes (EKS) in production; on-call for the platform.
- Moved settlement events to Kafka consumers.
Backend Developer, Shopline, 2015 - 2018
- Python services for order processing, PostgreSQL, Docker.
"""
UNRELATED = """Experience
Pastry Chef, Maison Lenoir, 2016 - present
- Lead a team of four in a busy patisserie: laminated doughs, entremets, plated desserts.
- Plan seasonal menus and manage flour, butter and chocolate orders.
Commis Chef, Hotel Bellevue, 2012 - 2016
- Prepared breads and viennoiseries for the breakfast buffet.
"""


@pytest.fixture(scope="module")
def qwen05_server():
    s = ServerThread(EngineArgs(model="qwen2.5-0.5b", device="cpu", num_kv_blocks=512,
                                max_num_batched_tokens=1024))
    yield s
    s.stop()


def test_a_matching_resume_scores_above_an_unrelated_one(qwen05_server) -> None:
    documents = {"matching": common_pb2.Document(text=MATCHING),
                 "unrelated": common_pb2.Document(text=UNRELATED)}
    stub = screening_pb2_grpc.ScreeningServiceStub(qwen05_server.channel())
    messages = list(stub.ScreenBatch(screening_pb2.ScreenBatchRequest(
        job_description=JD, resumes=[screening_pb2.BatchResume(resume_id=k, resume=v)
                                     for k, v in documents.items()]), timeout=600))
    results = {m.result.resume_id: m.result.response for m in messages[:-1]}
    for rid, r in results.items():
        check_screen(r, documents[rid], requirements=[
            ("4+ years building backend services in Python", MUST),
            ("PostgreSQL: schema design and query tuning", MUST),
            ("Running services on Kubernetes in production", MUST),
            ("Kafka or another event streaming system", NICE)])
    matching, unrelated = results["matching"].match_score, results["unrelated"].match_score
    assert matching != unrelated, "the same score for both: the model told them nothing apart"
    assert matching >= unrelated + MARGIN, (matching, unrelated)
    assert [x.resume_id for x in messages[-1].ranking.ranked] == ["matching", "unrelated"]
