"""Load generator: drive a hireserve server over gRPC and report throughput, TTFT, TPOT, ITL,
end-to-end latency, goodput under an SLO and the prefix-cache hit rate.

    python -m benchmarks.serve               # starts its own server (default model)
    python -m benchmarks.serve --target 127.0.0.1:50051 \\
        --metrics-url http://127.0.0.1:9400/metrics --api generate --concurrency 1 8 32 \\
        --num-resumes 64 --max-tokens 32
    python -m benchmarks.serve --target ... --rate 2 --arrival gamma --burstiness 0.5 --duration 60

Writes results.json, results.md, latency_cdf.png and throughput.png under --out.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Any

from benchmarks.loadgen import LoadShape
from benchmarks.report import markdown_table, plot_latency_cdfs, plot_throughput, write_json
from benchmarks.run import build_calls, measure, warm_up
from benchmarks.stats import SLO
from benchmarks.workload import LengthMix, make_workload


def add_workload_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload")
    g.add_argument("--num-resumes", type=int, default=32, help="default %(default)s")
    g.add_argument("--num-jobs", type=int, default=1, help="job descriptions the resumes share")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--resume-tokens", type=int, nargs=2, metavar=("MIN", "MAX"),
                   help="uniform resume lengths instead of the realistic mix "
                        "(500-3,000 tokens, a tail to 32K)")
    g.add_argument("--long-fraction", type=float, default=0.0,
                   help="share of 64K-128K resumes in the realistic mix (e.g. 0.05)")
    g.add_argument("--zh-fraction", type=float, default=0.3, help="share of Chinese jobs")
    g.add_argument("--job-tokens", type=int, nargs=2, default=(250, 600), metavar=("MIN", "MAX"))
    g.add_argument("--max-tokens", type=int, default=32,
                   help="output tokens per generate request (EOS ignored)")


def make_calls_workload(args: argparse.Namespace, count_model: str | None):  # type: ignore[no-untyped-def]
    """The seeded workload, lengths counted with `count_model`'s tokenizer when given."""
    count = None
    if count_model:
        try:  # the tokenizer needs the server extra; the light client install estimates
            from hireserve.server.engine.tokenizer import Tokenizer
            from hireserve.server.models.source import resolve_model
        except ImportError:
            Tokenizer = None  # type: ignore[assignment,misc]
        if Tokenizer is not None:
            tok = Tokenizer.from_source(resolve_model(count_model))
            count = lambda s: len(tok.encode(s))  # noqa: E731
    lengths = (LengthMix.uniform(*args.resume_tokens) if args.resume_tokens
               else LengthMix(long_fraction=args.long_fraction))
    return make_workload(args.num_resumes, num_jobs=args.num_jobs, seed=args.seed,
                         lengths=lengths, zh_fraction=args.zh_fraction,
                         job_tokens=tuple(args.job_tokens), count_tokens=count)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.serve",
                                description=__doc__.splitlines()[0])
    s = p.add_argument_group("server")
    s.add_argument("--target", help="HOST:PORT of a running server; without it one is started")
    s.add_argument("--metrics-url", help="its /metrics URL (prefix-cache hit rate)")
    s.add_argument("--model", default="default",
                   help="model of the started server, and tokenizer that counts workload "
                        "tokens (default %(default)s)")
    s.add_argument("--server-arg", action="append", default=[], metavar="FLAG",
                   help="extra flag for the started server, e.g. --server-arg=--no-prefix-caching")
    add_workload_arguments(p)
    g = p.add_argument_group("load")
    g.add_argument("--api", choices=["generate", "screen", "screen-batch"], default="generate")
    g.add_argument("--batch-size", type=int, default=8, help="resumes per ScreenBatch call")
    g.add_argument("--concurrency", type=int, nargs="+",
                   help="closed loop: one run per value (default 1 8 32); open loop: "
                        "cap on requests in flight (default 0 = none)")
    g.add_argument("--rate", type=float, help="open loop: requests per second")
    g.add_argument("--arrival", choices=["poisson", "gamma"], default="poisson")
    g.add_argument("--burstiness", type=float, default=1.0,
                   help="gamma shape: 1 = Poisson, < 1 = burstier")
    g.add_argument("--num-requests", type=int, help="default: one per resume (batch)")
    g.add_argument("--duration", type=float, help="seconds after which no request is sent")
    g.add_argument("--warmup", type=int, default=2, help="unmeasured requests first")
    g.add_argument("--slo-ttft-ms", type=float, default=2000.0)
    g.add_argument("--slo-tpot-ms", type=float, default=500.0)
    g.add_argument("--slo-e2e-ms", type=float)
    o = p.add_argument_group("output")
    o.add_argument("--out", type=Path, default=Path("benchmarks/out/serve"))
    o.add_argument("--no-plots", action="store_true")
    o.add_argument("--no-progress", action="store_true")
    return p


def slo_from(args: argparse.Namespace) -> SLO:
    def s(ms: float | None) -> float | None:
        return None if ms is None else ms / 1e3

    return SLO(ttft=s(args.slo_ttft_ms), tpot=s(args.slo_tpot_ms), e2e=s(args.slo_e2e_ms))


def run_sweep(args: argparse.Namespace, target: str, metrics_url: str | None,
              count_model: str | None) -> list[dict[str, Any]]:
    workload = make_calls_workload(args, count_model)
    calls = build_calls(workload, args.api, max_tokens=args.max_tokens,
                        batch_size=args.batch_size)
    warm_up(target, args.api, args.warmup, max_tokens=args.max_tokens)
    levels = args.concurrency or ([1, 8, 32] if args.rate is None else [0])
    shapes = ([LoadShape(concurrency=c, num_requests=args.num_requests, duration=args.duration,
                         seed=args.seed) for c in levels] if args.rate is None else
              [LoadShape(concurrency=levels[0], rate=args.rate, arrival=args.arrival,
                         burstiness=args.burstiness, num_requests=args.num_requests,
                         duration=args.duration, seed=args.seed)])
    runs = []
    for shape in shapes:
        label = (f"c={shape.concurrency}" if shape.rate is None
                 else f"{shape.rate:g} req/s {shape.arrival}")
        runs.append(measure(target, calls, args.api, shape, label=label, metrics_url=metrics_url,
                            slo=slo_from(args), progress=not args.no_progress))
    return runs


def write_outputs(out: Path, runs: list[dict[str, Any]], meta: dict[str, Any],
                  plots: bool) -> str:
    table = markdown_table(runs)
    write_json(out / "results.json", {**meta, "runs": runs})
    (out / "results.md").write_text(table + "\n")
    if plots:
        plot_latency_cdfs(runs, out / "latency_cdf.png")
        closed = [(r["concurrency"], r["resumes_per_minute"]) for r in runs
                  if r["load"].startswith("closed")]
        if closed:
            plot_throughput({"hireserve": closed}, out / "throughput.png")
    return table


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    meta = {"date": datetime.date.today().isoformat(), "args": vars(args)}
    if args.target:
        runs = run_sweep(args, args.target, args.metrics_url, args.model)
    else:
        from benchmarks.servers import ServerProcess

        with ServerProcess(["--model", args.model, *args.server_arg]) as server:
            runs = run_sweep(args, server.target, server.metrics_url, args.model)
    print(write_outputs(args.out, runs, meta, plots=not args.no_plots))
    print(f"\nwrote {args.out}/results.json, results.md"
          + ("" if args.no_plots else ", latency_cdf.png, throughput.png"))
    return 0 if all(r["failed"] == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
