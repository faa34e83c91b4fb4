"""The audit log: whole JSON lines with the documented fields, hashes instead of text, fsync
modes, concurrent writers, and weights fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime, timedelta

import pytest
import torch

from hireserve.server import audit
from hireserve.server.audit import (
    AuditLog,
    AuditLogCorrupt,
    TornRecord,
    checkpoint_fingerprint,
    make_record,
    open_audit_log,
    read_log,
    read_records,
    verify_inputs,
    weights_fingerprint,
)
from hireserve.server.engine.sampling_params import SamplingParams

RESUME = "Ada Lovelace\nada@example.org, +44 20 7946 0000\nAnalytical Engine, 1843 — Notes G"
JOB = "Senior engineer: compilers, numerical methods, 5+ years."
OPTIONS = {"language": "en", "must_have": ["compilers"], "weights": {"skills": 0.7}}
SCHEMA = '{"type":"object","title":"screen_schema_v1"}'
FIELDS = {"audit_version", "time", "request_id", "method", "model_id", "weights_fingerprint",
          "prompt_version", "schema_version", "sampling", "seed", "inputs_sha256",
          "inputs_digest", "result", "latency_s"}


def _record(i: int = 0, **kw):
    args = dict(
        request_id=f"rid-{i}", method="Screen", model_id="qwen2.5-7b-instruct",
        weights_fingerprint="params-sha256:" + "0" * 64, prompt_version="screen_v1",
        schema_version="screen_schema_v1",
        sampling=SamplingParams(temperature=0.0, max_tokens=256, seed=1234, json_schema=SCHEMA,
                                stop_token_ids=(2, 3)),
        inputs={"job_description": JOB, "resume": RESUME, "options": OPTIONS},
        result={"score": 0.82, "recommendation": "interview", "index": i},
        latency_s=1.25,
    )
    args.update(kw)
    return make_record(**args)


def test_records_are_json_lines_with_every_field(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.append(_record(0))
        log.append(_record(1))
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3  # two lines, each ended by a newline
    parsed = [json.loads(line) for line in lines[:2]]
    assert parsed == read_records(path)
    rec = parsed[1]
    assert set(rec) == FIELDS
    assert rec["request_id"] == "rid-1" and rec["method"] == "Screen"
    assert rec["seed"] == 1234 and rec["sampling"]["seed"] == 1234
    assert rec["sampling"]["stop_token_ids"] == [2, 3]
    assert rec["result"] == {"score": 0.82, "recommendation": "interview", "index": 1}
    assert rec["latency_s"] == 1.25
    when = datetime.fromisoformat(rec["time"])
    assert when.utcoffset() == timedelta(0)
    assert abs((datetime.now(when.tzinfo) - when).total_seconds()) < 60
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)


def test_no_input_text_reaches_the_file(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.append(_record())
    raw = path.read_bytes()
    for secret in (RESUME, JOB, "ada@example.org", "Lovelace", "Analytical Engine", SCHEMA,
                   "must_have"):
        assert secret.encode() not in raw
        assert json.dumps(secret).encode() not in raw  # nor its JSON-escaped form


def test_hashes_are_sha256_of_the_canonical_inputs(tmp_path) -> None:
    rec = _record()
    options_json = '{"language":"en","must_have":["compilers"],"weights":{"skills":0.7}}'
    want = {
        "job_description": hashlib.sha256(JOB.encode("utf-8")).hexdigest(),
        "resume": hashlib.sha256(RESUME.encode("utf-8")).hexdigest(),
        "options": hashlib.sha256(options_json.encode("utf-8")).hexdigest(),
    }
    assert rec["inputs_sha256"] == want
    digest_src = json.dumps(want, sort_keys=True, separators=(",", ":"))
    assert rec["inputs_digest"] == hashlib.sha256(digest_src.encode()).hexdigest()
    assert rec["sampling"]["json_schema_sha256"] == hashlib.sha256(SCHEMA.encode()).hexdigest()
    assert "json_schema" not in rec["sampling"]
    # key order of the options does not matter; any change of the text does
    reordered = {"weights": {"skills": 0.7}, "must_have": ["compilers"], "language": "en"}
    assert verify_inputs(rec, {"job_description": JOB, "resume": RESUME, "options": reordered})
    assert not verify_inputs(rec, {"job_description": JOB, "resume": RESUME + " ",
                                   "options": OPTIONS})


def _count_fsyncs(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(audit.os, "fsync", counting)
    return calls


def test_fsync_per_record(tmp_path, monkeypatch) -> None:
    path = tmp_path / "audit.jsonl"
    path.touch()  # existing file: no directory fsync on open
    calls = _count_fsyncs(monkeypatch)
    log = AuditLog(path, fsync="record")
    for i in range(3):
        log.append(_record(i))
        assert len(calls) == i + 1
    log.close()
    assert len(calls) == 3  # nothing left to sync at close


def test_fsync_per_batch(tmp_path, monkeypatch) -> None:
    path = tmp_path / "audit.jsonl"
    path.touch()
    calls = _count_fsyncs(monkeypatch)
    log = AuditLog(path, fsync="batch", batch_records=3, batch_interval_s=3600)
    for i in range(4):
        log.append(_record(i))
    assert len(calls) == 1  # after the third record
    log.sync()
    assert len(calls) == 2  # the fourth
    log.sync()
    assert len(calls) == 2  # nothing new
    log.append(_record(5))
    log.close()
    assert len(calls) == 3
    assert len(read_records(path)) == 5
    with pytest.raises(ValueError):
        log.append(_record(6))


def test_batch_interval_forces_a_sync(tmp_path, monkeypatch) -> None:
    path = tmp_path / "audit.jsonl"
    path.touch()
    calls = _count_fsyncs(monkeypatch)
    log = AuditLog(path, fsync="batch", batch_records=1000, batch_interval_s=0.0)
    log.append(_record())
    assert len(calls) == 1
    log.close()


def test_a_new_file_syncs_its_directory(tmp_path, monkeypatch) -> None:
    calls = _count_fsyncs(monkeypatch)
    AuditLog(tmp_path / "new.jsonl", fsync="batch").close()
    assert len(calls) == 1


def test_bad_fsync_mode_and_off_by_default(tmp_path) -> None:
    with pytest.raises(ValueError):
        AuditLog(tmp_path / "a.jsonl", fsync="never")  # type: ignore[arg-type]
    assert open_audit_log(None) is None
    log = open_audit_log(tmp_path / "b.jsonl", fsync="batch")
    assert isinstance(log, AuditLog) and log.fsync == "batch"
    log.close()


def test_concurrent_appends_give_whole_lines(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    logs = [AuditLog(path, fsync="batch"), AuditLog(path, fsync="batch")]  # two writers, one file
    big = {"notes": "x" * 20_000}  # lines larger than a pipe buffer
    threads, per_thread = 8, 40

    def work(t: int) -> None:
        for i in range(per_thread):
            logs[t % 2].append(_record(t * 1000 + i, result={**big, "t": t, "i": i}))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for log in logs:
        log.close()
    records = read_records(path)
    seen = sorted((r["result"]["t"], r["result"]["i"]) for r in records)
    assert seen == [(t, i) for t in range(threads) for i in range(per_thread)]


def test_read_records_skips_a_torn_tail_but_not_a_torn_middle(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.append(_record(0))
    with path.open("ab") as fh:
        fh.write(b'{"request_id": "rid-1", "trunc')  # crash in the middle of a write
    assert [r["request_id"] for r in read_records(path)] == ["rid-0"]
    with path.open("ab") as fh:
        fh.write(b"\n")
    with pytest.raises(AuditLogCorrupt, match="line 2"):
        read_records(path)


def test_reopening_terminates_a_torn_tail_and_records_the_repair(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        for i in range(3):
            log.append(_record(i))
    whole = path.read_bytes()
    third = whole.rindex(b"\n", 0, len(whole) - 1) + 1  # where the last record starts
    cut = third + 40
    os.truncate(path, cut)  # a crash 40 bytes into the third record
    assert read_log(path).torn == [TornRecord(3, third, 40, repaired=False)]

    with AuditLog(path) as log:  # the restart
        assert log.repair is not None
        log.append(_record(3))
    contents = read_log(path)
    assert [r["request_id"] for r in contents.records] == ["rid-0", "rid-1", "rid-3"]
    assert contents.torn == [TornRecord(3, third, 40, repaired=True)]
    [repair] = contents.repairs
    assert repair == log.repair and repair["record_type"] == "repair"
    assert (repair["torn_offset"], repair["torn_bytes"]) == (third, 40)
    assert repair["torn_sha256"] == hashlib.sha256(whole[third:cut]).hexdigest()
    assert read_records(path) == contents.records

    with AuditLog(path) as log:  # a clean tail is left alone
        assert log.repair is None
    assert read_log(path) == contents


def test_a_fragment_that_is_a_whole_record_is_kept(tmp_path) -> None:
    """Cut exactly before its newline: the record is complete; only the newline is added."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.append(_record(0))
    os.truncate(path, path.stat().st_size - 1)
    with AuditLog(path) as log:
        assert log.repair is not None and log.repair["torn_offset"] == 0
        log.append(_record(1))
    contents = read_log(path)
    assert [r["request_id"] for r in contents.records] == ["rid-0", "rid-1"]
    assert contents.torn == [] and len(contents.repairs) == 1


def _tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(700, 600), torch.nn.LayerNorm(600))


def test_weights_fingerprint_tracks_the_weights() -> None:
    model = _tiny_model()
    fp = weights_fingerprint(model)
    assert fp.startswith("params-sha256:") and len(fp) == len("params-sha256:") + 64
    assert weights_fingerprint(_tiny_model()) == fp  # same weights, same fingerprint
    assert weights_fingerprint(dict(model.state_dict())) == fp  # module or mapping
    with torch.no_grad():
        model[0].weight[0, 0] += 1.0  # the first element is always sampled
    assert weights_fingerprint(model) != fp
    other = _tiny_model()
    with torch.no_grad():
        other[0].weight.view(-1)[-1] += 1.0  # ... and the last
    assert weights_fingerprint(other) != fp
    assert weights_fingerprint(_tiny_model().to(torch.bfloat16)) != fp  # a cast changes it
    renamed = {f"model.{k}": v for k, v in _tiny_model().state_dict().items()}
    assert weights_fingerprint(renamed) != fp


def test_weights_fingerprint_reference() -> None:
    """The documented recipe, recomputed here for a one-tensor model of 4 float32 values."""
    t = torch.tensor([1.0, 2.0, 3.0, 4.0])
    h = hashlib.sha256(b"w|(4,)|float32\n")
    # k=2: the first 2, every 2nd (stride 4 // 2) capped at 2, the last 2
    for part in (t[:2], t[::2][:2], t[-2:]):
        h.update(part.numpy().tobytes())
    assert weights_fingerprint({"w": t}, sample_elements=2) == "params-sha256:" + h.hexdigest()


def test_checkpoint_fingerprint(tmp_path) -> None:
    a, b = tmp_path / "model-00001.safetensors", tmp_path / "model-00002.safetensors"
    a.write_bytes(b"alpha" * 1000)
    b.write_bytes(b"beta")
    want = hashlib.sha256()
    for p in (a, b):
        data = p.read_bytes()
        want.update(f"{p.name}|{len(data)}|{hashlib.sha256(data).hexdigest()}\n".encode())
    assert checkpoint_fingerprint([b, a], chunk=7) == "files-sha256:" + want.hexdigest()
    b.write_bytes(b"betA")
    assert checkpoint_fingerprint([a, b]) != "files-sha256:" + want.hexdigest()
