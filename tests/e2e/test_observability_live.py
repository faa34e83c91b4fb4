"""Metrics scraped over HTTP from a live server after real traffic, and an audit record that
replays to the same decision."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_thread import ServerThread, tiny_engine_args

from hireserve.server.audit import read_records, verify_inputs
from hireserve.server.config import ServerConfig
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

JD = "Data engineer: five years of Python, Spark and Airflow pipelines in production."
RESUMES = [f"Candidate {i}: 6 years of Python and Spark pipelines; Airflow at Corp {i}."
           for i in range(6)]


@pytest.fixture(scope="module")
def observed(tiny_chat, tmp_path_factory):
    audit = tmp_path_factory.mktemp("audit") / "decisions.jsonl"
    s = ServerThread(tiny_engine_args(tiny_chat), ServerConfig(audit_log=audit))
    yield s, audit
    s.stop()


def _scrape(server) -> tuple[str, dict[str, float]]:
    port = server.app.metrics_port
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name + json.dumps(sample.labels, sort_keys=True)
            values[key] = sample.value
    return text, values


def _total(values: dict[str, float], name: str, **labels: str) -> float:
    total = 0.0
    for key, value in values.items():
        metric, _, raw = key.partition("{")
        if metric != name:
            continue
        got = json.loads("{" + raw)
        if all(got.get(k) == v for k, v in labels.items()):
            total += value
    return total


def test_metrics_move_as_the_traffic_implies(observed) -> None:
    server, _ = observed
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    _, before = _scrape(server)
    messages = list(stub.ScreenBatch(screening_pb2.ScreenBatchRequest(
        job_description=JD + "\nMetrics.",  # a job description no other test has screened
        resumes=[screening_pb2.BatchResume(resume_id=str(i),
                                           resume=common_pb2.Document(text=r))
                 for i, r in enumerate(RESUMES)]), timeout=300))
    results = [m.result.response for m in messages[:-1]]
    text, after = _scrape(server)

    def delta(name: str, **labels: str) -> float:
        return _total(after, name, **labels) - _total(before, name, **labels)

    assert delta("hireserve_rpc_requests_total", method="ScreenBatch", code="OK") == 1
    assert delta("hireserve_cached_prompt_tokens_total") == sum(
        r.usage.cached_prompt_tokens for r in results) > 0
    assert delta("hireserve_prompt_tokens_total") == sum(r.usage.prompt_tokens for r in results)
    assert delta("hireserve_generation_tokens_total") == sum(
        r.usage.generated_tokens for r in results)
    assert delta("hireserve_prefix_cache_hit_tokens_total") > 0
    assert delta("hireserve_documents_parsed_total", format="text", outcome="ok") == 6
    # Only the labels of the job's longer requirements are generated, once (one request each);
    # the screenings' questions are prefill-only and have no first token.
    named = [a for a in results[0].requirements if a.label != a.requirement.strip(" .;:")]
    assert delta("hireserve_time_to_first_token_seconds_count") == len(named)
    assert sum(r.usage.generated_tokens > 0 for r in results) == (1 if named else 0)
    assert delta("hireserve_structured_output_failures_total") == 0
    model = server.engine.engine.source.name
    assert _total(after, "hireserve_build_info", model=model, tensor_parallel_size="1") == 1
    assert _total(after, "hireserve_requests_running") == 0
    if shutil.which("promtool"):
        done = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                              capture_output=True, timeout=60)
        assert done.returncode == 0, (done.stdout + done.stderr).decode()


AUDITED = ("Experience\n- 6 years of Python and Spark pipelines at Corp\n"
           "- Airflow for the nightly jobs")


def test_an_audit_record_replays_to_the_same_decision(observed) -> None:
    server, audit = observed
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    # Generated prose, sampled: the record must hold what it takes to sample it again.
    request = screening_pb2.ScreenRequest(
        job_description=JD, resume=common_pb2.Document(text=AUDITED),
        options=screening_pb2.ScreenOptions(
            explain=True, sampling=common_pb2.SamplingParams(temperature=1.0, seed=1234)))
    first = stub.Screen(request, metadata=[("x-request-id", "audit-me")], timeout=120)
    record = next(r for r in read_records(audit) if r["request_id"] == "audit-me")
    text = audit.read_text()
    for escaped in (json.dumps(AUDITED), json.dumps(AUDITED, ensure_ascii=False)):
        assert escaped[1:-1] not in text  # hashes, never the resume (a line may be quoted)
    assert record["inputs_sha256"]["resume"] == hashlib.sha256(AUDITED.encode()).hexdigest()
    assert record["seed"] == 1234 and record["prompt_version"] == first.prompt_version
    assert record["weights_fingerprint"] and record["latency_s"] > 0
    assert record["result"]["match_score"] == first.match_score
    assert record["result"]["requirements_sha256"] == hashlib.sha256(json.dumps(
        [[a.requirement, "must" if a.importance == screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE
          else "nice"] for a in first.requirements],
        ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()

    # A reviewer holding the documents re-runs the decision from the record alone.
    from google.protobuf.json_format import MessageToDict

    inputs = {"job_description": JD, "resume": AUDITED,
              "options": MessageToDict(request.options)}
    assert verify_inputs(record, inputs)
    replay = screening_pb2.ScreenRequest(
        job_description=JD, resume=common_pb2.Document(text=AUDITED),
        options=screening_pb2.ScreenOptions(explain=True, sampling=common_pb2.SamplingParams(
            temperature=record["sampling"]["temperature"], seed=record["seed"])))
    again = stub.Screen(replay, timeout=120)
    assert again.match_score == record["result"]["match_score"]
    assert list(again.red_flags) == record["result"].get("red_flags", [])
    assert again.summary == record["result"].get("summary", "")
    assert again.experience_evaluation == record["result"]["experience_evaluation"]


def test_a_default_screen_records_that_nothing_was_sampled(observed) -> None:
    server, audit = observed
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    request = screening_pb2.ScreenRequest(job_description=JD,
                                          resume=common_pb2.Document(text=AUDITED))
    first = stub.Screen(request, metadata=[("x-request-id", "audit-plain")], timeout=120)
    record = next(r for r in read_records(audit) if r["request_id"] == "audit-plain")
    assert record["sampling"] == {"method": "prefill_scoring", "answers": ["no", "yes"]}
    assert record["seed"] is None
    assert [(q["verdict"], q["evidence"]) for q in record["result"]["requirements"]] == [
        (screening_pb2.RequirementVerdict.Name(a.verdict).removeprefix(
            "REQUIREMENT_VERDICT_").lower(), a.evidence) for a in first.requirements]
    again = stub.Screen(request, timeout=120)
    assert (again.match_score, again.summary) == (first.match_score, first.summary)
