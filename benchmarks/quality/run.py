"""Screen the labelled set through a hireserve server and score the screener against the grades.

    python -m benchmarks.quality --target 127.0.0.1:50051
    python -m benchmarks.quality --model default --write-results      # starts its own server
    python -m benchmarks.quality --target HOST:PORT --subset 2 --jobs backend,icu_nurse

Each job's items (graded resumes, name-swap and injection variants) go in one ScreenBatch, so
the server shares the job description's prefix; only ScreenResponse.match_score is read. The
TF-IDF keyword baseline scores the same items in the same run. Writes results.json and
report.md to benchmarks/out/quality/<model>/ and, with --write-results, the model's section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.quality import dataset, metrics, report
from benchmarks.quality.keyword_baseline import TfidfMatcher

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "benchmarks" / "out" / "quality"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--target", help="host:port of a running hireserve server")
    where.add_argument("--model", help="start `hireserve serve --model MODEL` for the run")
    where.add_argument("--baseline-only", action="store_true",
                       help="score the set with the TF-IDF baseline alone (no server) and print it")
    p.add_argument("--serve-args", default="",
                   help="more arguments for the started server, e.g. \"--dtype bfloat16\"")
    p.add_argument("--jobs", help="comma-separated job ids (default: every job)")
    p.add_argument("--subset", type=int, metavar="N",
                   help="only the first N graded resumes of each job (with their variants)")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="sampling temperature of every screen (default 0: greedy)")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="deadline of each job's ScreenBatch in seconds (default 3600)")
    p.add_argument("--out", type=Path,
                   help="report folder (default benchmarks/out/quality/<model>)")
    p.add_argument("--write-results", nargs="?", type=Path, const=REPO / "benchmarks/RESULTS.md",
                   metavar="PATH", help="also write the model's section of benchmarks/RESULTS.md")
    p.add_argument("--data", type=Path, default=dataset.DATA, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not (args.target or args.model or args.baseline_only):
        p.error("one of --target, --model or --baseline-only is required")
    if args.subset is not None and args.subset < 1:
        p.error("--subset must be at least 1")
    return args


@contextlib.contextmanager
def server_target(args: argparse.Namespace) -> Iterator[str]:
    if args.target:
        yield args.target
        return
    from benchmarks.servers import ServerProcess

    with ServerProcess(["--model", args.model, *shlex.split(args.serve_args)],
                       startup_timeout=600) as server:
        yield server.target


def screen_job(client: Any, job: dataset.Job, *, temperature: float,
               timeout: float) -> tuple[dict[str, float], dict[str, str]]:
    """(scores, errors) of every item of the job, from one ScreenBatch."""
    from hireserve.clients.errors import HireError

    scores: dict[str, float] = {}
    errors: dict[str, str] = {}
    stream = client.screen_batch(job.description, {i.id: i.text for i in job.items},
                                 sampling={"temperature": temperature}, timeout=timeout)
    try:
        for event in stream:
            if event.WhichOneof("event") != "result":
                continue
            result = event.result
            if result.WhichOneof("outcome") == "response":
                scores[result.resume_id] = float(result.response.match_score)
            else:
                err = HireError.from_status(result.error)
                errors[result.resume_id] = err.one_line()
    except HireError as exc:  # the whole batch failed: every item not yet answered did
        for item in job.items:
            if item.id not in scores:
                errors.setdefault(item.id, exc.one_line())
    for item in job.items:
        if item.id not in scores:
            errors.setdefault(item.id, "no result in the stream")
    return scores, errors


def baseline_scores(jobs: Sequence[dataset.Job]) -> dict[str, float]:
    matcher = TfidfMatcher([j.description for j in jobs] + [i.text for j in jobs for i in j.items])
    return {i.id: s for j in jobs
            for i, s in zip(j.items, matcher.scores(j.description, [i.text for i in j.items]),
                            strict=True)}


def model_dirname(model: str) -> str:
    name = model.rstrip("/")
    if os.sep in name and Path(name).exists():  # a local checkpoint: its folder's name
        name = Path(name).name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        head = git("rev-parse", "--short", "HEAD")
        return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    jobs = dataset.load(args.data, jobs=args.jobs.split(",") if args.jobs else None,
                        subset=args.subset)
    if args.baseline_only:
        summary = metrics.evaluate(jobs, baseline_scores(jobs))
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    from hireserve.clients.client import HireClient

    started = time.monotonic()
    scores: dict[str, float] = {}
    errors: dict[str, str] = {}
    with server_target(args) as target, HireClient(target) as client:
        info = client.model_info()
        for job in jobs:
            t0 = time.monotonic()
            got, failed = screen_job(client, job, temperature=args.temperature,
                                     timeout=args.timeout)
            scores.update(got)
            errors.update(failed)
            print(f"{job.id}: {len(got)}/{len(job.items)} scored in "
                  f"{time.monotonic() - t0:.0f} s", file=sys.stderr)
    wall = time.monotonic() - started
    baseline = baseline_scores(jobs)
    model_name = info.model or args.model  # the name the server reports, as clients see it
    result: dict[str, Any] = {
        "meta": {
            "model": model_name, "served_model": info.model, "dtype": info.dtype,
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
            # the client's machine: with --model the server runs on it too
            "machine": f"client {os.cpu_count()}-CPU {platform.machine()} {platform.system()}; "
                       f"server {info.dtype}, {info.attention_backend}",
            "commit": commit(), "wall_s": wall, "jobs": [j.id for j in jobs],
            "subset": args.subset, "temperature": args.temperature,
            "argv": " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        },
        "model": metrics.evaluate(jobs, scores),
        "baseline": metrics.evaluate(jobs, baseline),
        "items": [{"id": i.id, "job": i.job, "grade": i.grade, "language": i.language,
                   "kinds": list(i.kinds), "name_key": i.person.key if i.person else None,
                   "injection": i.injection, "score": scores.get(i.id),
                   "baseline_score": baseline[i.id], "error": errors.get(i.id)}
                  for job in jobs for i in job.items],
    }
    result["goals_met"] = report.goals(result["model"])
    out = args.out or OUT / model_dirname(model_name)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (out / "report.md").write_text(report.render(result), encoding="utf-8")
    if args.write_results:
        report.write_results(args.write_results, result)
    print(f"{len(scores)}/{len(result['items'])} items scored in {wall:.0f} s; "
          f"Spearman {report.fmt(result['model']['spearman'])} "
          f"(TF-IDF {report.fmt(result['baseline']['spearman'])}); report in {out}",
          file=sys.stderr)
    return 0 if not errors else 1
