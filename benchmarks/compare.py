"""hireserve against transformers `generate` on the same model and prompts, plus ablations of
hireserve (prefix caching off, chunked prefill off), all in one run.

    python -m benchmarks.compare                     # the CPU goal: SmolLM2-135M, 64 resumes

Every system gets the same N screening prompts (chat template of the screening messages: system
prompt, then the job description, then the resume, so the prefix is shared), exactly
--max-tokens output tokens each (EOS ignored, greedy), and all N arrive at t0:
- hireserve: a server subprocess per configuration on free ports, N Generate streams at once
  (closed loop, concurrency N), measured after a short warm-up;
- transformers: static batches with left padding (each batch waits for the previous one), and
  one request at a time (on the first --one-by-one-limit prompts; its rate is per request, so
  the subset measures it; its TTFTs cover only that subset).
Writes compare.json, compare.md, latency_cdf.png and throughput.png under --out.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.loadgen import LoadShape
from benchmarks.report import markdown_table, plot_latency_cdfs, plot_throughput, write_json
from benchmarks.run import build_calls, measure, warm_up
from benchmarks.servers import REPO, ServerProcess
from benchmarks.stats import SLO, RequestRecord, summarize

ABLATIONS = {
    "prefix": ("hireserve, no prefix caching", ["--no-prefix-caching"]),
    "chunked": ("hireserve, no chunked prefill", ["--no-chunked-prefill"]),
}


def build_parser() -> argparse.ArgumentParser:
    from benchmarks.serve import add_workload_arguments

    p = argparse.ArgumentParser(prog="python -m benchmarks.compare",
                                description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    add_workload_arguments(p)
    p.set_defaults(num_resumes=64, resume_tokens=[300, 800], job_tokens=[300, 300],
                   zh_fraction=0.0, max_tokens=32)
    p.add_argument("--server-arg", action="append", default=["--kv-cache-memory=6GiB"],
                   metavar="FLAG", help="flag for every hireserve server (default: a KV pool "
                   "that holds all prompts, so ablations differ only in the feature)")
    p.add_argument("--ablations", nargs="*", choices=sorted(ABLATIONS), default=sorted(ABLATIONS))
    p.add_argument("--hf-batch-sizes", type=int, nargs="*", default=[8, 16, 32])
    p.add_argument("--one-by-one-limit", type=int, default=16,
                   help="prompts run one at a time through transformers (0 skips it)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--slo-ttft-ms", type=float, default=60_000.0)
    p.add_argument("--slo-tpot-ms", type=float, default=1_000.0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/compare"))
    p.add_argument("--no-progress", action="store_true")
    return p


def hireserve_runs(args: argparse.Namespace, calls: list, slo: SLO) -> list[dict[str, Any]]:
    configs = [("hireserve", [])] + [ABLATIONS[a] for a in args.ablations]
    runs = []
    n = len(calls)
    for label, flags in configs:
        with ServerProcess(["--model", args.model, *args.server_arg, *flags]) as server:
            warm_up(server.target, "generate", args.warmup, max_tokens=args.max_tokens)
            run = measure(server.target, calls, "generate",
                          LoadShape(concurrency=n, num_requests=n), label=label,
                          metrics_url=server.metrics_url, slo=slo,
                          progress=not args.no_progress)
        run["system"] = "hireserve"
        run["flags"] = flags
        runs.append(run)
        print(f"{label}: {run['resumes_per_minute']:.1f} resumes/min, "
              f"TTFT p50 {run['ttft']['p50_ms']:.0f} ms", flush=True)
    return runs


def hf_runs(args: argparse.Namespace, prompts: list[list[int]], pad_id: int,
            slo: SLO) -> list[dict[str, Any]]:
    from benchmarks.hf_baseline import generate_static, load_hf_model

    hf = load_hf_model(args.model)
    generate_static(hf, prompts[:1], batch_size=1, max_new_tokens=2, pad_token_id=pad_id)
    plan = ([(1, prompts[:args.one_by_one_limit], "transformers, one by one")]
            if args.one_by_one_limit else [])
    plan += [(b, prompts, f"transformers, static batch {b}") for b in args.hf_batch_sizes]
    runs = []
    for batch, subset, label in plan:
        t0 = time.perf_counter()
        records = generate_static(hf, subset, batch_size=batch, max_new_tokens=args.max_tokens,
                                  pad_token_id=pad_id, t0=t0)
        run = _hf_summary(records, t0, slo, label)
        run["system"] = "transformers"
        run["concurrency"] = batch
        runs.append(run)
        print(f"{label}: {run['resumes_per_minute']:.1f} resumes/min, "
              f"TTFT p50 {run['ttft']['p50_ms']:.0f} ms", flush=True)
    return runs


def _hf_summary(records: list[RequestRecord], t0: float, slo: SLO, label: str) -> dict[str, Any]:
    duration = max(r.end for r in records) - t0
    run = summarize(records, requested=len(records), duration=duration, slo=slo)
    run["label"] = label
    run["load"] = "offline, all prompts at t0"
    run["prefix_cache"] = None
    run["samples"] = {"ttft": [r.ttft for r in records if r.ttft is not None],
                      "itl": [g for r in records for g in r.itls()],
                      "e2e": [r.e2e for r in records]}
    return run


def verdict(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """hireserve (all features on) against transformers' best static batch."""
    ours = next(r for r in runs if r["label"] == "hireserve")
    static = [r for r in runs if r["label"].startswith("transformers, static")]
    if not static:
        return {}
    best = max(static, key=lambda r: r["resumes_per_minute"])
    ratio = ours["resumes_per_minute"] / best["resumes_per_minute"]
    return {
        "baseline": best["label"],
        "throughput_ratio": ratio,
        "ttft_p50_ms": {"hireserve": ours["ttft"]["p50_ms"], "baseline": best["ttft"]["p50_ms"]},
        "goal_throughput_2x": ratio >= 2.0,
        "goal_lower_p50_ttft": ours["ttft"]["p50_ms"] < best["ttft"]["p50_ms"],
    }


def main(argv: list[str] | None = None) -> int:
    from benchmarks.quality import screen_v1
    from benchmarks.serve import make_calls_workload, slo_from
    from hireserve.server.engine.tokenizer import Tokenizer
    from hireserve.server.models.source import resolve_model

    args = build_parser().parse_args(argv)
    args.slo_e2e_ms = None
    slo = slo_from(args)
    started = time.time()
    commit = _commit()  # before the run: the lead may commit while it runs
    workload = make_calls_workload(args, args.model)
    calls = build_calls(workload, "generate", max_tokens=args.max_tokens)
    tok = Tokenizer.from_source(resolve_model(args.model))
    # The exact token ids the server makes of the same chat messages.
    prompts = [tok.apply_chat_template(screen_v1.messages(j.text, r.text, j.language))
               for j, r in workload.pairs()]
    pad_id = tok.hf.pad_token_id if tok.hf.pad_token_id is not None else min(tok.eos_token_ids)

    runs = hireserve_runs(args, calls, slo) + hf_runs(args, prompts, pad_id, slo)
    result = verdict(runs)
    lengths = sorted(len(p) for p in prompts)
    meta = {
        "date": datetime.date.today().isoformat(),
        "commit": commit,
        "model": args.model,
        "workload": {"resumes": len(prompts), "jobs": args.num_jobs,
                     "resume_tokens": args.resume_tokens, "job_tokens": args.job_tokens,
                     "prompt_tokens_min_mean_max": [lengths[0], sum(lengths) / len(lengths),
                                                    lengths[-1]],
                     "output_tokens": args.max_tokens, "seed": args.seed},
        "slo": slo.describe(),
        "wall_s": time.time() - started,
    }
    table = markdown_table(runs)
    write_json(args.out / "compare.json", {**meta, "verdict": result, "runs": runs})
    lines = [table, ""]
    if result:
        lines.append(f"hireserve / {result['baseline']}: {result['throughput_ratio']:.2f}x "
                     f"resumes per minute; TTFT p50 {result['ttft_p50_ms']['hireserve']:.0f} ms "
                     f"vs {result['ttft_p50_ms']['baseline']:.0f} ms")
    (args.out / "compare.md").write_text("\n".join(lines) + "\n")
    plot_latency_cdfs(runs, args.out / "latency_cdf.png")
    plot_throughput({"transformers static batch": [(r["concurrency"], r["resumes_per_minute"])
                                                   for r in runs if r["system"] == "transformers"],
                     "hireserve (all requests at once)": [
                         (r["concurrency"], r["resumes_per_minute"]) for r in runs
                         if r["label"] == "hireserve"]},
                    args.out / "throughput.png")
    print("\n".join(lines))
    print(f"\nwrote {args.out}/compare.json, compare.md, latency_cdf.png, throughput.png "
          f"({meta['wall_s']:.0f} s)")
    return 0


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
