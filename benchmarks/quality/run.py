"""Screen the labelled set through a hireserve server and score the screener against the grades.

    python -m benchmarks.quality --model qwen2.5-1.5b --write-results   # starts its own server
    python -m benchmarks.quality --target 127.0.0.1:50051 --hf-model qwen2.5-1.5b
    python -m benchmarks.quality --model qwen2.5-0.5b --subset 1 --jobs backend --no-hf --no-v1

One run, in this order, so every comparison is made under the same load:
1. cold Screen: the first job's first resume, before anything else (the job not yet analysed);
2. screen_v3, the server's Screen: each job's items (graded resumes, name-swap and injection
   variants) in one ScreenBatch; the scores, red flags and evidence lines are kept;
3. warm Screens: the first --single graded resumes, one Screen at a time;
4. screen_v1 baseline (--v1, the default): every item through Generate (benchmarks/quality/v1.py);
5. the server is stopped, then the transformers speed baseline (--hf, the default) scores the
   same v3 questions of the first --hf-items graded resumes (benchmarks/quality/hf_scoring.py);
6. the TF-IDF keyword baseline scores every item.
Writes results.json and report.md to benchmarks/out/quality/<model>/ and, with
--write-results, the model's section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.quality import dataset, evidence, meta, metrics, report, screens
from benchmarks.quality.keyword_baseline import TfidfMatcher

REPO = meta.REPO
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
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads: the started server's --cpu-threads and transformers' "
                        "torch threads (default: each one's own default)")
    p.add_argument("--jobs", help="comma-separated job ids (default: every job)")
    p.add_argument("--subset", type=int, metavar="N",
                   help="only the first N graded resumes of each job (with their variants)")
    p.add_argument("--single", type=int, default=8, metavar="N",
                   help="warm single Screen calls timed one at a time, on the first N graded "
                        "resumes (default 8; 0: no single Screens, no cold one either)")
    p.add_argument("--v1", action=argparse.BooleanOptionalAction, default=True,
                   help="run the screen_v1 baseline through Generate (default: on; slow on CPU)")
    p.add_argument("--v1-concurrency", type=int, default=8, metavar="N",
                   help="screen_v1 Generate calls in flight (default 8)")
    p.add_argument("--hf", action=argparse.BooleanOptionalAction, default=True,
                   help="time transformers on the same v3 questions (default: on)")
    p.add_argument("--hf-items", type=int, default=4, metavar="N",
                   help="graded resumes the transformers baseline scores (default 4)")
    p.add_argument("--hf-model",
                   help="the model transformers loads (default: --model; needed with --target)")
    p.add_argument("--hf-batch-sizes", default="1,4,16",
                   help="transformers batch sizes to try (default 1,4,16)")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="sampling temperature of generated text: screen_v1 (default 0: greedy)")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="deadline of each call in seconds (default 3600)")
    p.add_argument("--evidence", type=Path, default=evidence.EVIDENCE,
                   help="evidence labels (default benchmarks/quality/data/evidence.json)")
    p.add_argument("--out", type=Path,
                   help="report folder (default benchmarks/out/quality/<model>)")
    p.add_argument("--write-results", nargs="?", type=Path, const=REPO / "benchmarks/RESULTS.md",
                   metavar="PATH", help="also write the model's section of benchmarks/RESULTS.md")
    p.add_argument("--data", type=Path, default=dataset.DATA, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not (args.target or args.model or args.baseline_only):
        p.error("one of --target, --model or --baseline-only is required")
    for name in ("subset", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if min(args.single, args.hf_items) < 0 or args.v1_concurrency < 1:
        p.error("--single and --hf-items must be >= 0, --v1-concurrency >= 1")
    try:
        args.hf_batch_sizes = [int(s) for s in args.hf_batch_sizes.split(",")]
    except ValueError:
        p.error("--hf-batch-sizes: comma-separated integers")
    return args


@contextlib.contextmanager
def server_target(args: argparse.Namespace) -> Iterator[str]:
    if args.target:
        yield args.target
        return
    from benchmarks.servers import ServerProcess

    threads = ["--cpu-threads", str(args.threads)] if args.threads else []
    with ServerProcess(["--model", args.model, *threads, *shlex.split(args.serve_args)],
                       startup_timeout=600) as server:
        yield server.target


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


def base_work(jobs: Sequence[dataset.Job], n: int) -> list[tuple[dataset.Job, dataset.Item]]:
    """The first n graded resumes, in the set's order."""
    return [(job, item) for job in jobs for item in job.base][:n]


def server_passes(args: argparse.Namespace, jobs: Sequence[dataset.Job]) -> dict[str, Any]:
    """Steps 1-4 of the run against one server."""
    from benchmarks.quality.v1 import run_v1
    from hireserve.clients.client import HireClient

    batch = screens.BatchRun()
    with server_target(args) as target, HireClient(target) as client:
        info = client.model_info()
        cold = screens.time_screens(client, base_work(jobs, 1 if args.single else 0),
                                    timeout=args.timeout)
        for job in jobs:
            records, errors, wall = screens.screen_job(client, job, temperature=args.temperature,
                                                       timeout=args.timeout)
            batch.add(job, records, errors, wall)
            print(f"{job.id}: {len(records)}/{len(job.items)} screened in {wall:.0f} s",
                  file=sys.stderr)
        warm = screens.time_screens(client, base_work(jobs, args.single), timeout=args.timeout)
        throughput = (screens.speed_batch(client, jobs, timeout=args.timeout)
                      if args.single else None)
        v1 = None
        if args.v1:
            v1 = run_v1(client, jobs, context_length=info.context_length,
                        concurrency=args.v1_concurrency, temperature=args.temperature,
                        timeout=args.timeout)
            print(f"screen_v1: {len(v1.scores)} scored in {v1.wall_s:.0f} s", file=sys.stderr)
    return {"info": info, "batch": batch, "cold": cold, "warm": warm, "v1": v1,
            "throughput": throughput}


def hf_pass(args: argparse.Namespace, jobs: Sequence[dataset.Job], batch: screens.BatchRun,
            dtype: str) -> dict[str, Any] | None:
    """Step 5; None when switched off, an {"error"} when it could not run."""
    model = args.hf_model or args.model
    if not args.hf or not args.hf_items:
        return None
    if not model:
        return {"error": "no model for transformers: pass --hf-model with --target"}
    from benchmarks.quality.hf_scoring import Resume, run_baseline

    resumes = []
    for item in (i for j in jobs for i in j.base if i.id in batch.records):
        rec = batch.records[item.id]["requirements"]
        resumes.append(Resume(item.id, item.text,
                              tuple(a["requirement"] for a in rec),
                              tuple(a["confidence"] for a in rec)))
    resumes = [r for r in resumes if r.requirements][:args.hf_items]
    if not resumes:
        return {"error": "no screened resume with requirements to score"}
    try:
        return run_baseline(model, resumes, dtype=dtype, threads=args.threads,
                            batch_sizes=args.hf_batch_sizes)
    except Exception as exc:  # the quality numbers above must not be lost to the baseline
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    jobs = dataset.load(args.data, jobs=args.jobs.split(",") if args.jobs else None,
                        subset=args.subset)
    if args.baseline_only:
        print(json.dumps(metrics.evaluate(jobs, baseline_scores(jobs)), indent=2,
                         ensure_ascii=False))
        return 0
    labels = evidence.EvidenceLabels.load(args.evidence)
    load_start, started = meta.load(), time.monotonic()
    passes = server_passes(args, jobs)
    info, batch, v1 = passes["info"], passes["batch"], passes["v1"]
    hf = hf_pass(args, jobs, batch, info.dtype or "float32")
    wall = time.monotonic() - started
    baseline = baseline_scores(jobs)

    model = metrics.evaluate(jobs, batch.scores, batch.flags)
    model["evidence"] = (evidence.precision(
        jobs, labels, {k: r["requirements"] for k, r in batch.records.items()})
        if labels is not None else None)
    speed = screens.speed_summary(batch, passes["cold"], passes["warm"], passes["throughput"])
    speed["v1_per_min"] = v1.per_minute() if v1 else None
    speed["hf_per_min"] = hf.get("per_min") if hf else None
    speed["hf_ratio"] = (speed["batch_per_min"] / speed["hf_per_min"]
                         if speed["batch_per_min"] and speed["hf_per_min"] else None)
    model["speed"] = speed
    model_name = info.model or args.model  # the name the server reports, as clients see it
    result: dict[str, Any] = {
        "meta": {
            "model": model_name, "served_model": info.model, "dtype": info.dtype,
            "date": meta.today(),
            # the client's machine: with --model the server runs on it too
            "machine": f"client {meta.machine()}; server {info.dtype}, {info.attention_backend}"
                       + ("" if args.model else " (a separate server: --target)"),
            "threads": {"server": args.threads if args.threads and args.model
                        else "its default",
                        "transformers": hf.get("threads") if hf else None},
            "load_start": load_start, "load_end": meta.load(),
            "commit": meta.commit(), "wall_s": wall, "jobs": [j.id for j in jobs],
            "subset": args.subset, "temperature": args.temperature,
            "argv": " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        },
        "model": model,
        "v1": metrics.evaluate(jobs, v1.scores, v1.flags) if v1 else None,
        "baseline": metrics.evaluate(jobs, baseline),
        "hf": hf,
        "items": [{"id": i.id, "job": i.job, "grade": i.grade, "language": i.language,
                   "kinds": list(i.kinds), "name_key": i.person.key if i.person else None,
                   "injection": i.injection, "score": batch.scores.get(i.id),
                   "v1_score": v1.scores.get(i.id) if v1 else None,
                   "baseline_score": baseline[i.id], "error": batch.errors.get(i.id),
                   "v1_error": v1.errors.get(i.id) if v1 else None,
                   "screen": batch.records.get(i.id)}
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
    print(f"{len(batch.records)}/{len(result['items'])} items screened in {wall:.0f} s; "
          f"Spearman {report.fmt(model['spearman'])} (TF-IDF "
          f"{report.fmt(result['baseline']['spearman'])}); report in {out}", file=sys.stderr)
    return 0 if not batch.errors else 1
