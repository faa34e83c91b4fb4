"""`hireserve rank`: screen every resume in a folder through ScreenBatch and rank them.

A file that cannot be read here, or that the server cannot read, becomes an error row; it
never stops the run. Large folders go in several ScreenBatch calls (by count and by bytes, so
each request stays under the server's message limit); the ranking is then merged here with the
server's rule: score descending, ties in file order.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hireserve.clients.client import HireClient
from hireserve.clients.documents import RESUME_SUFFIXES, document_from_file, read_job_description
from hireserve.clients.errors import HireError
from hireserve.v1 import common_pb2, screening_pb2

MiB = 2**20
CSV_COLUMNS = ("rank", "file", "score", "must_haves", "nice_to_haves", "summary", "red_flags",
               "error")
# One mark per requirement, in the job's order: met, partial, missing.
MARKS = {screening_pb2.REQUIREMENT_VERDICT_MET: "✓",
         screening_pb2.REQUIREMENT_VERDICT_PARTIAL: "~",
         screening_pb2.REQUIREMENT_VERDICT_MISSING: "✗"}


@dataclass
class Row:
    file: str
    rank: int | None = None
    score: int | None = None
    must_haves: str = ""  # e.g. "✓✓~✗✓": one mark per must-have
    nice_to_haves: str = ""
    summary: str = ""
    red_flags: list[str] = field(default_factory=list)
    error: str = ""
    requirements: list[dict[str, str]] = field(default_factory=list)  # --json only


def verdict_marks(response: screening_pb2.ScreenResponse, importance: int) -> str:
    return "".join(MARKS.get(a.verdict, "?") for a in response.requirements
                   if a.importance == importance)


def find_resumes(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in RESUME_SUFFIXES)


def chunks(items: list[tuple[str, common_pb2.Document]], max_count: int, max_bytes: int
           ) -> Iterator[list[tuple[str, common_pb2.Document]]]:
    batch: list[tuple[str, common_pb2.Document]] = []
    size = 0
    for item in items:
        n = item[1].ByteSize()
        if batch and (len(batch) >= max_count or size + n > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


def screen_folder(client: HireClient, jd: str, files: list[Path], *, batch_size: int,
                  max_file_bytes: int, output_language: str = "", blind: bool = False,
                  explain: bool = False, on_progress: object = None) -> list[Row]:
    """One row per file, ranked rows first (best first), then error rows in file order."""
    rows = {p.name: Row(p.name) for p in files}
    docs: list[tuple[str, common_pb2.Document]] = []
    for p in files:
        try:
            size = p.stat().st_size
            if size > max_file_bytes:
                raise ValueError(f"file is {size} bytes; the limit is {max_file_bytes}")
            docs.append((p.name, document_from_file(p)))
        except (OSError, ValueError) as exc:
            rows[p.name].error = f"could not read the file: {exc}"
            _tick(on_progress)
    # A resume that failed for a transient reason (the server's queue was full) is screened
    # again in a later batch, after the server's hint, up to the client's max attempts.
    policy = client.settings.retry
    pending, attempt = docs, 0
    while pending:
        attempt += 1
        again: list[tuple[str, common_pb2.Document]] = []
        wait = 0.0
        by_id = dict(pending)
        for batch in chunks(pending, batch_size, max_bytes=24 * MiB):
            seen: set[str] = set()
            for event in client.screen_batch(jd, dict(batch), output_language=output_language,
                                             blind=blind, explain=explain):
                if event.WhichOneof("event") != "result":
                    continue  # the ranking: recomputed below across batches
                result = event.result
                row = rows[result.resume_id]
                seen.add(result.resume_id)
                if result.WhichOneof("outcome") == "response":
                    r = result.response
                    row.score, row.summary = r.match_score, r.summary
                    row.red_flags = list(r.red_flags)
                    row.must_haves = verdict_marks(
                        r, screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE)
                    row.nice_to_haves = verdict_marks(
                        r, screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE)
                    row.requirements = [
                        {"requirement": a.requirement, "label": a.label,
                         "verdict": screening_pb2.RequirementVerdict.Name(a.verdict)
                         .removeprefix("REQUIREMENT_VERDICT_").lower(),
                         "evidence": a.evidence} for a in r.requirements]
                else:
                    error = HireError.from_status(result.error)
                    if policy.should_retry(error, attempt):
                        again.append((result.resume_id, by_id[result.resume_id]))
                        wait = max(wait, policy.delay(error, attempt))
                        continue
                    row.error = error.one_line()
                _tick(on_progress)
            for rid, _ in batch:
                if rid not in seen:
                    rows[rid].error = "the server sent no result for this resume"
                    _tick(on_progress)
        pending = again
        if pending:
            time.sleep(wait)
    order = {p.name: i for i, p in enumerate(files)}
    ranked = sorted((r for r in rows.values() if r.score is not None),
                    key=lambda r: (-(r.score or 0), order[r.file]))
    for i, row in enumerate(ranked, 1):
        row.rank = i
    failed = [r for r in rows.values() if r.score is None]
    return ranked + sorted(failed, key=lambda r: order[r.file])


def _tick(on_progress: object) -> None:
    if callable(on_progress):
        on_progress()


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            writer.writerow([r.rank or "", r.file, "" if r.score is None else r.score,
                             r.must_haves, r.nice_to_haves, r.summary, " | ".join(r.red_flags),
                             r.error])


def write_json(rows: list[Row], path: Path) -> None:
    data = [{k: asdict(r)[k] for k in (*CSV_COLUMNS, "requirements")} for r in rows]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def run_rank(ns: argparse.Namespace) -> int:
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

    from hireserve.clients import render
    from hireserve.clients.commands import make_client

    jd = read_job_description(ns.jd)
    folder = Path(ns.folder)
    files = find_resumes(folder)
    if not files:
        raise ValueError(f"{folder}: no {'/'.join(RESUME_SUFFIXES)} files")
    with make_client(ns) as client, \
            Progress(console=render.stderr_console(), transient=True) as progress:
        task = progress.add_task("Screening", total=len(files))
        rows = screen_folder(client, jd, files, batch_size=ns.batch_size,
                             max_file_bytes=int(ns.max_file_mib * MiB),
                             output_language=ns.language, blind=ns.blind,
                             explain=ns.explain, on_progress=lambda: progress.advance(task))
    if ns.csv:
        write_csv(rows, ns.csv)
    if ns.json:
        write_json(rows, ns.json)
    table = Table(title=f"{len(files)} resumes against {Path(ns.jd).name}")
    table.add_column("Rank", justify="right")
    table.add_column("File", no_wrap=True)
    table.add_column("Score", justify="right")
    table.add_column("Must-haves", no_wrap=True)
    table.add_column("Nice", no_wrap=True)
    table.add_column("Summary", ratio=3)
    table.add_column("Red flags", ratio=2)
    for r in rows:
        # Text, not markup: summaries and errors may contain brackets.
        if r.score is None:
            table.add_row("-", Text(r.file), "error", "", "", Text(r.error, style="red"), "")
        else:
            table.add_row(str(r.rank), Text(r.file),
                          Text(str(r.score), style=render.score_style(r.score)),
                          render.marks(r.must_haves), render.marks(r.nice_to_haves),
                          Text(r.summary),
                          Text("; ".join(r.red_flags) or "-",
                               style="red" if r.red_flags else "dim"))
    render.stdout_console().print(table)
    render.stdout_console().print(Text("✓ met   ~ partial   ✗ missing (one mark per requirement, "
                                       "in the job description's order)", style="dim"))
    return 0
