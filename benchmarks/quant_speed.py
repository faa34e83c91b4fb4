"""The embedded Qwen2.5-Coder GGUFs at dense fp32, dense bf16 and their own 4-bit weights, beside
llama.cpp on the same file, in one run; plus a server's resident memory and GenerateQuestions.

    flock /tmp/hireserve-bench.lock python -m benchmarks.quant_speed --threads 2 \\
        [--models qwen2.5-0.5b qwen2.5-1.5b] [--llamacpp /work/bench-venvs/llamacpp/bin/python] \\
        [--memory] [--questions]

Speeds come from our ModelRunner driven directly (no scheduler, no server): prefill is one
chunk of `--prefill` tokens; decode is `--new-tokens` greedy steps after a 32-token prompt, at
batch 1 and batch 8, timed over the decode steps only. llama.cpp (benchmarks/llamacpp_peer.py,
its own venv: see there) gets the same token ids, the same threads, greedy, batch 1 only (the
high-level API runs one sequence). Each variant loads from the weight cache (the first start of
a variant writes it, and its time is reported apart). `--memory` starts `hireserve serve` with
the 1.5B at int4 and dense bf16 and reads VmRSS after one Generate; `--questions` times
GenerateQuestions(examples/resumes/alice_nguyen.pdf) against `make serve`'s model at int4 and
dense bf16. Every number is from the same run: compare them with each other, not with other runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.decode_speed import ours
from benchmarks.servers import REPO, ServerProcess
from hireserve.server.engine.runner import ModelRunner
from hireserve.server.models.loader import load_model
from hireserve.server.models.source import resolve_model

BLOCK_SIZE = 16
PROMPT = 32
VARIANTS = {"fp32": (torch.float32, "none"), "bf16": (torch.bfloat16, "none"),
            "int4": (torch.bfloat16, "int4")}


def _tokens(n: int, seed: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1000, 150000, (n,), generator=g).tolist()


def measure(model_name: str, variant: str, prefill: int, new_tokens: int) -> dict[str, Any]:
    dtype, quantization = VARIANTS[variant]
    source = resolve_model(model_name)
    start = time.perf_counter()
    model, config = load_model(source, dtype=dtype, device="cpu", quantization=quantization)
    load_s = time.perf_counter() - start
    blocks = 8 * (-(-(max(prefill, PROMPT) + new_tokens) // BLOCK_SIZE)) + 8
    runner = ModelRunner(model, config, device="cpu", dtype=dtype, block_size=BLOCK_SIZE,
                         num_blocks=blocks, attention_backend="torch")
    result: dict[str, Any] = {"model": model_name, "variant": variant, "load_s": load_s}
    with torch.inference_mode():
        ours(runner, [_tokens(16, 9)], 4)  # warm-up
        total, _ = ours(runner, [_tokens(prefill, 1)], 1)
        result["prefill_tok_s"] = prefill / total
        for batch in (1, 8):
            prompts = [_tokens(PROMPT, 2 + i) for i in range(batch)]
            _, decode = ours(runner, prompts, new_tokens)
            result[f"decode{batch}_tok_s"] = batch * (new_tokens - 1) / decode
    result["tokens"] = greedy_tokens(runner, new_tokens)
    del model, runner
    gc.collect()
    return result


def greedy_tokens(runner: ModelRunner, new_tokens: int) -> list[int]:
    from hireserve.scheduler.output import ScheduledChunk, SchedulerOutput
    from hireserve.scheduler.sequence import Sequence

    seq = Sequence(_tokens(PROMPT, 2))
    seq.block_table = list(range(-(-(PROMPT + new_tokens) // BLOCK_SIZE)))
    out = runner.execute(SchedulerOutput([ScheduledChunk(seq, 0, PROMPT, True)]))
    tokens = [out[0]]
    while len(tokens) < new_tokens:
        seq.token_ids.append(tokens[-1])
        (token,) = runner.execute(SchedulerOutput([ScheduledChunk(seq, seq.num_tokens - 1, 1,
                                                                  True)]))
        assert token is not None
        tokens.append(token)
    return tokens


def llamacpp(python: str, model_name: str, threads: int, prefill: int,
             new_tokens: int) -> dict[str, Any]:
    source = resolve_model(model_name)
    job = {"model": str(source.path), "threads": threads, "prefill": _tokens(prefill, 1),
           "prompt": _tokens(PROMPT, 2), "new_tokens": new_tokens}
    out = subprocess.run([python, str(REPO / "benchmarks" / "llamacpp_peer.py")],
                         input=json.dumps(job), capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return {"model": model_name, "variant": "llama.cpp", **result}


def _rss_mib(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def server_memory(model_name: str, threads: int) -> list[dict[str, Any]]:
    from hireserve.clients import HireClient

    rows = []
    for quantization in ("int4", "none"):
        args = ["--model", model_name, "--quantization", quantization, "--dtype", "bfloat16",
                "--cpu-threads", str(threads)]
        with ServerProcess(args, startup_timeout=900) as server, \
                HireClient(server.target) as client:
            assert server.proc is not None
            for _ in client.generate("Name three skills a backend engineer needs.",
                                     max_tokens=8):
                pass
            rss, peak = _rss_mib(server.proc.pid)
        rows.append({"model": model_name, "quantization": quantization, "rss_mib": rss,
                     "peak_rss_mib": peak})
    return rows


def questions(model_name: str, threads: int) -> list[dict[str, Any]]:
    from hireserve.clients import HireClient

    resume = REPO / "examples" / "resumes" / "alice_nguyen.pdf"
    rows = []
    for quantization in ("int4", "none"):
        args = ["--model", model_name, "--quantization", quantization,
                "--cpu-threads", str(threads)]
        with ServerProcess(args, startup_timeout=900) as server, \
                HireClient(server.target) as client:
            times = []
            for _ in range(2):  # the first also compiles the answer's grammar
                start = time.perf_counter()
                reply = client.generate_questions(resume, timeout=1800)
                times.append(time.perf_counter() - start)
        rows.append({"model": model_name, "quantization": quantization, "first_s": times[0],
                     "second_s": times[1], "questions": len(reply.questions)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prefill", type=int, default=1024)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--llamacpp", default="/work/bench-venvs/llamacpp/bin/python",
                        help="python of the llama-cpp-python venv ('' skips llama.cpp)")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--questions", action="store_true")
    parser.add_argument("--questions-model", default="qwen2.5-1.5b")  # `make serve`'s
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" /
                        "quant_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows: list[dict[str, Any]] = []
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}, "
          f"{args.threads} threads", flush=True)
    for model_name in args.models:
        for variant in args.variants:
            rows.append(measure(model_name, variant, args.prefill, args.new_tokens))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "tokens"}), flush=True)
        if args.llamacpp:
            rows.append(llamacpp(args.llamacpp, model_name, args.threads, args.prefill,
                                 args.new_tokens))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "tokens"}), flush=True)
    extra: list[dict[str, Any]] = []
    if args.memory:
        extra += server_memory("qwen2.5-1.5b", args.threads)
    if args.questions:
        extra += questions(args.questions_model, args.threads)
    for row in extra:
        print(json.dumps(row), flush=True)
    print(f"end load {os.getloadavg()[0]:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "servers": extra}, indent=1))


if __name__ == "__main__":
    main()
