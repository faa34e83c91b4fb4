"""RPC, document and build-info metrics, the live /metrics endpoint and promtool's lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hireserve.server.engine.info import EngineInfo
from hireserve.server.metrics import Metrics, split_method
from hireserve.server.service.rpc import ServiceState, _Call
from hireserve.v1 import generation_pb2, screening_pb2
from tests.observability.helpers import bucket_counts, family_names, value

SCREENING = screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"]
GENERATION = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"]
SCREENING_NAME = "hireserve.v1.ScreeningService"
GENERATION_NAME = "hireserve.v1.GenerationService"


def test_split_method() -> None:
    assert split_method("/hireserve.v1.ScreeningService/Screen") == (SCREENING_NAME, "Screen")
    assert split_method("ScreeningService/Screen") == ("ScreeningService", "Screen")
    assert split_method("Screen") == (None, "Screen")


def test_rpc_counts_codes_and_durations() -> None:
    metrics = Metrics(services=[SCREENING, GENERATION])
    metrics.observe_rpc("Screen", "OK", 0.2)
    metrics.observe_rpc("Screen", "OK", 0.3)
    metrics.observe_rpc("Screen", "INVALID_ARGUMENT", 0.01)
    metrics.observe_rpc(f"/{GENERATION_NAME}/Generate", "OK", 90.0)
    metrics.observe_rpc("Mystery", "OK", 1.0)
    text = metrics.exposition()
    req = "hireserve_rpc_requests_total"
    assert value(text, req, service=SCREENING_NAME, method="Screen", code="OK") == 2
    assert value(text, req, service=SCREENING_NAME, method="Screen",
                 code="INVALID_ARGUMENT") == 1
    assert value(text, req, service=GENERATION_NAME, method="Generate", code="OK") == 1
    assert value(text, req, service="unknown", method="Mystery", code="OK") == 1
    # registered methods exist at 0 before their first call
    assert b'method="ScreenBatch"' in text
    assert value(text, req, service=SCREENING_NAME, method="ScreenBatch", code="OK") == 0
    dur = "hireserve_rpc_request_duration_seconds"
    assert value(text, f"{dur}_count", service=SCREENING_NAME, method="Screen") == 3
    assert value(text, f"{dur}_sum", service=SCREENING_NAME, method="Screen") == pytest.approx(
        0.51)
    gen = bucket_counts(text, dur, service=GENERATION_NAME, method="Generate")
    assert max(gen) == float("inf") and sorted(gen)[-2] >= 1800  # buckets reach minutes
    assert (gen[60.0], gen[120.0]) == (0, 1)


class _Context:
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-request-id", "rid-1"),)


def test_the_rpc_layer_feeds_the_observer_and_in_flight_gauge() -> None:
    metrics = Metrics(services=[SCREENING])
    state = ServiceState()
    state.observers.append(metrics.observe_rpc)
    metrics.track_in_flight(state)
    first, second = _Call(state, "Screen", _Context()), _Call(state, "Screen", _Context())
    assert value(metrics.exposition(), "hireserve_rpc_requests_in_flight") == 2
    first.finish()
    second.code = "DEADLINE_EXCEEDED"
    second.finish()
    text = metrics.exposition()
    assert value(text, "hireserve_rpc_requests_in_flight") == 0
    req = "hireserve_rpc_requests_total"
    assert value(text, req, service=SCREENING_NAME, method="Screen", code="OK") == 1
    assert value(text, req, service=SCREENING_NAME, method="Screen",
                 code="DEADLINE_EXCEEDED") == 1


def test_in_flight_from_a_function() -> None:
    metrics = Metrics()
    box = SimpleNamespace(n=5)
    metrics.track_in_flight(lambda: box.n)
    assert value(metrics.exposition(), "hireserve_rpc_requests_in_flight") == 5


def test_documents_by_format_and_outcome() -> None:
    metrics = Metrics()
    metrics.record_document("pdf", "ok")
    metrics.record_document("pdf", "ok")
    metrics.record_document("docx", "rejected")
    metrics.record_document("exe", "exploded")
    text = metrics.exposition()
    doc = "hireserve_documents_parsed_total"
    assert value(text, doc, format="pdf", outcome="ok") == 2
    assert value(text, doc, format="docx", outcome="rejected") == 1
    assert value(text, doc, format="other", outcome="other") == 1
    assert b"exe" not in text


def test_build_info_is_one_series_set_to_one() -> None:
    metrics = Metrics()
    metrics.set_build_info(version="0.0.9", model="old", dtype="float32",
                           attention_backend="torch", tensor_parallel_size=1)
    info = EngineInfo(model="qwen2.5-7b-instruct", context_length=131072, dtype="bfloat16",
                      tensor_parallel_size=2, attention_backend="flash_attn",
                      weights_fingerprint="params-sha256:" + "0" * 64, vocab_size=152064)
    metrics.set_build_info_from(info, version="0.1.0")
    text = metrics.exposition()
    labels = dict(version="0.1.0", model="qwen2.5-7b-instruct", dtype="bfloat16",
                  attention_backend="flash_attn", tensor_parallel_size="2")
    assert value(text, "hireserve_build_info", **labels) == 1
    assert text.count(b"hireserve_build_info{") == 1


def test_two_instances_do_not_collide() -> None:
    a, b = Metrics(), Metrics()
    a.record_structured_output_failure()
    assert value(a.exposition(), "hireserve_structured_output_failures_total") == 1
    assert value(b.exposition(), "hireserve_structured_output_failures_total") == 0


def test_every_family_is_namespaced() -> None:
    names = family_names(Metrics(process_metrics=False).exposition())
    assert len(names) >= 25
    assert all(n.startswith("hireserve_") for n in names), names
    process = family_names(Metrics().exposition()) - names  # the standard collectors' names
    assert process and all(n.startswith(("process_", "python_")) for n in process), process


def test_live_http_endpoint() -> None:
    metrics = Metrics()
    port = metrics.start_http_server("127.0.0.1", 0)
    try:
        assert port > 0
        metrics.record_document("text", "ok")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            body = resp.read()
        assert value(body, "hireserve_documents_parsed_total", format="text", outcome="ok") == 1
        with pytest.raises(RuntimeError):
            metrics.start_http_server("127.0.0.1", 0)
    finally:
        metrics.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not on PATH")
def test_promtool_accepts_the_exposition() -> None:
    from tests.observability.test_metrics_engine import _traffic

    metrics = Metrics(services=[SCREENING, GENERATION])
    _traffic(metrics)
    metrics.observe_rpc("Screen", "OK", 0.2)
    metrics.record_document("pdf", "ok")
    metrics.set_build_info(version="0.1.0", model="m", dtype="bfloat16",
                           attention_backend="torch", tensor_parallel_size=1)
    done = subprocess.run(["promtool", "check", "metrics"], input=metrics.exposition(),
                          capture_output=True, timeout=60)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def test_docs_list_every_metric() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    documented = set(re.findall(r"`((?:hireserve|process|python)_[a-z0-9_]+)`",
                                docs.read_text()))
    exported = set()
    for family in text_string_to_metric_families(Metrics().exposition().decode()):
        if family.name.endswith("_created"):
            continue
        exported.add(family.name + ("_total" if family.type == "counter" else ""))
    assert exported - documented == set(), "exported but not documented"
    assert documented - exported == set(), "documented but not exported"
