"""Append-only JSONL audit log: one record per screening decision, never the inputs' text.

Off by default; `--audit-log PATH` turns it on (`open_audit_log(config.audit_log)`). Each line
is one JSON object (keys sorted, UTF-8) with:

    audit_version        1 (this layout)
    time                 UTC, ISO 8601 with microseconds, e.g. "2025-05-01T09:30:00.123456+00:00"
    request_id, method   the RPC's request id (x-request-id) and method ("Screen", ...)
    model_id             the model the engine serves (source name)
    weights_fingerprint  weights_fingerprint(model) or checkpoint_fingerprint(files), see below
    prompt_version       e.g. "screen_v3"; schema_version e.g. "questions_schema_v1" ("none"
                         for a Screen: its verdicts are read, not generated)
    sampling             the SamplingParams as a dict; `json_schema` is replaced by
                         `json_schema_sha256` (the schema is known from schema_version)
    seed                 the sampling seed (also inside `sampling`), null if unseeded
    inputs_sha256        {name: SHA-256 hex} for each input (job_description, resume, options, ...)
    inputs_digest        SHA-256 over the canonical JSON of `inputs_sha256`: one value to compare
    result               the typed result as a dict (it may quote the resume: protect the file)
    latency_s            seconds from the RPC's arrival to the decision

Canonical inputs: a `str` is hashed as its exact UTF-8 bytes (no normalization: the text the
prompt was built from), `bytes` as they are, anything else (options: dicts, lists, numbers) as
canonical JSON: keys sorted, separators (",", ":"), ensure_ascii=False, UTF-8.

Durability: `AuditLog(path, fsync="record")` fsyncs after every record (a decision is on disk
when append() returns); `fsync="batch"` fsyncs after `batch_records` records or once
`batch_interval_s` has passed at an append, and on `sync()` / `close()` (a crash can lose the
last unsynced batch, never corrupt earlier lines). Every record is written with one `write` on
an O_APPEND descriptor under one lock, so threads (and several AuditLog objects on one file)
never interleave partial lines. The file is created with mode 0600.

Torn tail: a crash (or a full disk) can cut the last record mid-write. Opening the log then
terminates that fragment with a newline and appends a repair record naming it (one line, fsynced
before any new decision), so the next record never lands on the fragment:

    {"audit_version": 1, "record_type": "repair", "time": ..., "torn_offset": 12345,
     "torn_bytes": 212, "torn_sha256": "..."}

Decision records carry no `record_type`. `read_log(path)` returns the decisions, the repair
records and the torn lines it skipped (each repaired one followed by its repair record; a final
line without its newline is reported as torn, not repaired); any other line that is not a JSON
object still raises AuditLogCorrupt. `read_records(path)` is its list of decisions.

Replaying a decision: the log holds hashes, not text, so the caller brings the original inputs.
`verify_inputs(record, inputs)` checks they are the ones the record was made from; then build the
prompt with `prompt_version`, run the engine with `sampling` (json_schema from schema_version)
and `seed`, and compare the result with `record["result"]`, on the same weights_fingerprint,
dtype and attention backend (floating-point results can still vary with batch shape; replay the
request alone for the closest match).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

AUDIT_VERSION = 1
FsyncMode = Literal["record", "batch"]
REPAIR = "repair"  # record_type of a repair record; decisions have no record_type
log = logging.getLogger("hireserve.audit")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_of_input(value: Any) -> str:
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    else:
        data = canonical_json(value)
    return hashlib.sha256(data).hexdigest()


def hash_inputs(inputs: Mapping[str, Any]) -> dict[str, str]:
    """{name: SHA-256 hex of the canonical input}: what a record keeps instead of the text."""
    return {name: sha256_of_input(value) for name, value in inputs.items()}


def inputs_digest(hashes: Mapping[str, str]) -> str:
    return hashlib.sha256(canonical_json(dict(hashes))).hexdigest()


def verify_inputs(record: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
    """True when `inputs` are exactly the inputs `record` was made from."""
    return bool(hash_inputs(inputs) == record["inputs_sha256"])


def sampling_dict(params: Any) -> dict[str, Any]:
    """SamplingParams (or a mapping) as JSON-ready data; the schema text becomes its hash."""
    is_instance = dataclasses.is_dataclass(params) and not isinstance(params, type)
    data = dataclasses.asdict(params) if is_instance else dict(params)
    schema = data.pop("json_schema", None)
    if schema is not None:
        data["json_schema_sha256"] = sha256_of_input(schema)
    plain: dict[str, Any] = json.loads(json.dumps(data))  # tuples -> lists; fails if not JSON
    return plain


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def make_record(
    *,
    request_id: str,
    method: str,
    model_id: str,
    weights_fingerprint: str,
    prompt_version: str,
    schema_version: str,
    sampling: Any,
    inputs: Mapping[str, Any],
    result: Mapping[str, Any],
    latency_s: float,
    at: str | None = None,
) -> dict[str, Any]:
    """One audit record. `inputs` holds the texts and options; only their hashes are kept.
    `at` overrides the time (UTC ISO 8601), e.g. the RPC's arrival."""
    params = sampling_dict(sampling)
    hashes = hash_inputs(inputs)
    return {
        "audit_version": AUDIT_VERSION,
        "time": at or utc_now_iso(),
        "request_id": request_id,
        "method": method,
        "model_id": model_id,
        "weights_fingerprint": weights_fingerprint,
        "prompt_version": prompt_version,
        "schema_version": schema_version,
        "sampling": params,
        "seed": params.get("seed"),
        "inputs_sha256": hashes,
        "inputs_digest": inputs_digest(hashes),
        "result": dict(result),
        "latency_s": float(latency_s),
    }


class AuditLog:
    def __init__(
        self,
        path: str | os.PathLike[str],
        fsync: FsyncMode = "record",
        *,
        batch_records: int = 64,
        batch_interval_s: float = 1.0,
    ) -> None:
        if fsync not in ("record", "batch"):
            raise ValueError(f"fsync must be 'record' or 'batch', got {fsync!r}")
        if batch_records < 1:
            raise ValueError("batch_records must be >= 1")
        self.path = Path(path)
        self.fsync = fsync
        self.batch_records = batch_records
        self.batch_interval_s = batch_interval_s
        self._lock = threading.Lock()
        created = not self.path.exists()
        self._fd: int | None = os.open(
            # Read too: opening checks the last line for a torn tail.
            self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        if created:  # make the new file's directory entry durable too
            _fsync_dir(self.path.parent)
        self._unsynced = 0
        self._last_sync = time.monotonic()
        self.repair = _repair_torn_tail(self._fd)  # the repair record written now, or None
        if self.repair is not None:
            log.warning("audit log: a torn final record was terminated and recorded",
                        extra={"torn_offset": self.repair["torn_offset"],
                               "torn_bytes": self.repair["torn_bytes"]})

    def append(self, record: Mapping[str, Any]) -> None:
        """Writes one record as one line (see make_record); thread-safe."""
        line = canonical_json(dict(record)) + b"\n"
        with self._lock:
            if self._fd is None:
                raise ValueError("the audit log is closed")
            _write_all(self._fd, line)
            self._unsynced += 1
            if self.fsync == "record" or self._batch_due():
                self._sync_locked()

    def _batch_due(self) -> bool:
        return (
            self._unsynced >= self.batch_records
            or time.monotonic() - self._last_sync >= self.batch_interval_s
        )

    def sync(self) -> None:
        """Makes every record appended so far durable (e.g. at the end of a ScreenBatch)."""
        with self._lock:
            if self._fd is not None and self._unsynced:
                self._sync_locked()

    def _sync_locked(self) -> None:
        assert self._fd is not None
        os.fsync(self._fd)
        self._unsynced = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            if self._unsynced:
                self._sync_locked()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog(path={str(self.path)!r}, fsync={self.fsync!r})"


def open_audit_log(
    path: str | os.PathLike[str] | None, fsync: FsyncMode = "record"
) -> AuditLog | None:
    """None when auditing is off (no path): the default."""
    return None if path is None else AuditLog(path, fsync)


def _write_all(fd: int, data: bytes) -> None:
    # One write() on O_APPEND places the whole line at the end atomically for regular files;
    # the loop only matters for a short write (disk full), which then raises on the next try.
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _repair_torn_tail(fd: int) -> dict[str, Any] | None:
    """Terminates a last line cut mid-write and appends the repair record describing it."""
    fcntl.flock(fd, fcntl.LOCK_EX)  # two processes opening one log repair it once
    try:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return None
        start = _last_line_start(fd, size)
        fragment = os.pread(fd, size - start, start)
        repair = {"audit_version": AUDIT_VERSION, "record_type": REPAIR, "time": utc_now_iso(),
                  "torn_offset": start, "torn_bytes": len(fragment),
                  "torn_sha256": hashlib.sha256(fragment).hexdigest()}
        _write_all(fd, b"\n" + canonical_json(repair) + b"\n")
        os.fsync(fd)
        return repair
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _last_line_start(fd: int, size: int, chunk: int = 64 * 1024) -> int:
    end = size
    while end > 0:
        begin = max(0, end - chunk)
        newline = os.pread(fd, end - begin, begin).rfind(b"\n")
        if newline >= 0:
            return begin + newline + 1
        end = begin
    return 0


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditLogCorrupt(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class TornRecord:
    """A line a crash cut short: where it is, and whether a repair record follows it."""

    line: int  # 1-based line number
    offset: int  # byte offset of its first byte
    size: int  # bytes, newline excluded
    repaired: bool  # False: the file's last line, still without its newline


@dataclasses.dataclass
class AuditContents:
    records: list[dict[str, Any]]  # the decisions, in order
    repairs: list[dict[str, Any]]  # the repair records
    torn: list[TornRecord]  # the lines skipped as torn


def read_log(path: str | os.PathLike[str]) -> AuditContents:
    """Every record of an audit log, in order, and the torn lines. A line that is not a JSON
    object is torn when a repair record for its offset follows it, or when it is the last line
    and lacks its newline; anywhere else it raises AuditLogCorrupt."""
    data = Path(path).read_bytes()
    contents = AuditContents([], [], [])
    lines = list(_lines(data))
    for i, (number, offset, raw, terminated) in enumerate(lines):
        record = _parse(raw)
        if record is None:
            follower = _parse(lines[i + 1][2]) if i + 1 < len(lines) else None
            repaired = (follower is not None and follower.get("record_type") == REPAIR
                        and follower.get("torn_offset") == offset)
            if not (repaired or not terminated):
                raise AuditLogCorrupt(f"{path}: line {number} is not a JSON object")
            contents.torn.append(TornRecord(number, offset, len(raw), repaired))
        elif record.get("record_type") == REPAIR:
            contents.repairs.append(record)
        else:
            contents.records.append(record)
    return contents


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The decisions of an audit log, in order (read_log(path).records)."""
    return read_log(path).records


def _lines(data: bytes) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line number, byte offset, bytes without the newline, whether a newline ended it)."""
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        terminated = offset + len(raw) < len(data)
        if raw or terminated:
            yield number, offset, raw, terminated
        offset += len(raw) + 1


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


# -- weights fingerprints --------------------------------------------------------------------


def weights_fingerprint(model: Any, sample_elements: int = 256) -> str:
    """'params-sha256:<hex>' over each parameter and buffer, in name order: its name, shape,
    dtype and the raw bytes of `sample_elements` elements from its start, `sample_elements`
    evenly strided through it and `sample_elements` from its end. Cheap (kilobytes per tensor
    copied to the CPU) and changes when weights are swapped, re-quantized, re-sharded or cast;
    it is not a hash of every byte (use checkpoint_fingerprint for that). `model` is an
    nn.Module or a mapping / iterable of (name, tensor). Under tensor parallelism each rank
    sees its shard: call it on rank 0 (or compare per rank)."""
    import torch

    if isinstance(model, torch.nn.Module):
        named = list(model.state_dict().items())  # parameters and buffers, shared ones once
    elif isinstance(model, Mapping):
        named = list(model.items())
    else:
        named = list(model)
    h = hashlib.sha256()
    for name, tensor in sorted(named, key=lambda item: item[0]):
        t = tensor.detach()
        header = f"{name}|{tuple(t.shape)}|{str(t.dtype).removeprefix('torch.')}\n"
        h.update(header.encode("utf-8"))
        flat = t.reshape(-1)
        k = sample_elements
        stride = max(1, flat.numel() // k)
        for part in (flat[:k], flat[::stride][:k], flat[-k:] if flat.numel() else flat[:0]):
            h.update(part.contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return "params-sha256:" + h.hexdigest()


def checkpoint_fingerprint(files: Iterable[str | os.PathLike[str]], chunk: int = 1 << 20) -> str:
    """'files-sha256:<hex>' over each checkpoint file (in name order): its name, size and the
    SHA-256 of all its bytes. Exact, but reads every byte (a 7B bf16 checkpoint: ~15 GB)."""
    h = hashlib.sha256()
    for path in sorted((Path(f) for f in files), key=lambda p: p.name):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
        h.update(f"{path.name}|{path.stat().st_size}|{digest.hexdigest()}\n".encode())
    return "files-sha256:" + h.hexdigest()
