"""SmolLM2-135M (the embedded GGUF) decode speed on this machine: our ModelRunner, our whole
step loop (`LLM.generate`: scheduler, runner, detokenizer) and transformers' generate, same
weights, same dtype, same run.

    python -m benchmarks.decode_speed [--new-tokens 64] [--prompt-len 128] [--dtype fp32]

Reports tokens/s at batch 1 and 8: "end-to-end" = prompt prefill + all new tokens (what
`generate` measures), "decode" = the per-token steps only (runner). "step loop" is the engine's
end to end over the same steps (one prefill step, then one decode step per token, prefix caching
off), and "overhead" what it adds per step to the runner's forward and sampling. Each figure is
the best of `--repeats` runs, the three alternating, so a busy shared machine skews all alike.
"""

from __future__ import annotations

import argparse
import time

import torch

from hireserve.scheduler.output import ScheduledChunk, SchedulerOutput
from hireserve.scheduler.sequence import ChunkKind, Sequence
from hireserve.server.engine import LLM, SamplingParams
from hireserve.server.engine.runner import ModelRunner
from hireserve.server.models.loader import load_model
from hireserve.server.models.source import DEFAULT_MODEL, resolve_model

BLOCK_SIZE = 16


def ours(runner: ModelRunner, prompts: list[list[int]], new_tokens: int) -> tuple[float, float]:
    """-> (end-to-end seconds, decode-only seconds), greedy."""
    seqs = [Sequence(list(p)) for p in prompts]
    next_block = 0
    for s in seqs:
        blocks = -(-(len(s.token_ids) + new_tokens) // BLOCK_SIZE)
        s.block_table = list(range(next_block, next_block + blocks))
        next_block += blocks
    start = time.perf_counter()
    out = runner.execute(
        SchedulerOutput([ScheduledChunk(s, 0, s.num_tokens, True) for s in seqs])).sampled
    decode_start = time.perf_counter()
    for _ in range(new_tokens - 1):
        for s, t in zip(seqs, out, strict=True):
            assert t is not None
            s.token_ids.append(t)
        out = runner.execute(SchedulerOutput([
            ScheduledChunk(s, s.num_tokens - 1, 1, True, kind=ChunkKind.DECODE) for s in seqs
        ])).sampled
    end = time.perf_counter()
    return end - start, end - decode_start


def step_loop(llm: LLM, prompts: list[list[int]], new_tokens: int) -> float:
    """End-to-end seconds of the same greedy tokens through the engine's step loop."""
    params = SamplingParams(temperature=0.0, max_tokens=new_tokens, ignore_eos=True)
    start = time.perf_counter()
    outputs = llm.generate(prompts, params)
    elapsed = time.perf_counter() - start
    assert all(len(o.token_ids) == new_tokens for o in outputs)
    return elapsed


def theirs(hf: torch.nn.Module, prompts: list[list[int]], new_tokens: int) -> float:
    ids = torch.tensor(prompts)
    start = time.perf_counter()
    hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                min_new_tokens=new_tokens, do_sample=False, pad_token_id=2)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-len", type=int, default=128)
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]

    from transformers import AutoModelForCausalLM

    source = resolve_model(DEFAULT_MODEL)
    assert source.path is not None
    model, config = load_model(source, dtype=dtype, device="cpu")
    hf = AutoModelForCausalLM.from_pretrained(
        source.path.parent, gguf_file=source.path.name, dtype=dtype
    ).eval()
    llm = LLM(DEFAULT_MODEL, dtype=args.dtype, device="cpu", block_size=BLOCK_SIZE,
              num_kv_blocks=max(args.batches) * (-(-(args.prompt_len + args.new_tokens)
                                                   // BLOCK_SIZE)),
              max_num_batched_tokens=max(2048, max(args.batches) * args.prompt_len),
              enable_prefix_caching=False, attention_backend="torch")
    g = torch.Generator().manual_seed(0)
    print(f"SmolLM2-135M {args.dtype} CPU, {torch.get_num_threads()} threads, "
          f"prompt {args.prompt_len}, {args.new_tokens} new tokens")
    for batch in args.batches:
        prompts = torch.randint(3, config.vocab_size, (batch, args.prompt_len),
                                generator=g).tolist()
        blocks = batch * (-(-(args.prompt_len + args.new_tokens) // BLOCK_SIZE))
        runner = ModelRunner(model, config, device="cpu", dtype=dtype, block_size=BLOCK_SIZE,
                             num_blocks=blocks, attention_backend="torch")
        with torch.inference_mode():
            ours(runner, [p[:8] for p in prompts], 4)  # warm-up
            step_loop(llm, [p[:8] for p in prompts], 4)
            theirs(hf, [p[:8] for p in prompts], 4)
            runs, loops, references = [], [], []
            for _ in range(args.repeats):
                runs.append(ours(runner, prompts, args.new_tokens))
                loops.append(step_loop(llm, prompts, args.new_tokens))
                references.append(theirs(hf, prompts, args.new_tokens))
        total = min(r[0] for r in runs)
        decode = min(r[1] for r in runs)
        loop = min(loops)
        reference = min(references)
        n = batch * args.new_tokens
        overhead_ms = (loop - total) / args.new_tokens * 1e3
        print(f"batch {batch}: ours {n / total:7.1f} tok/s end-to-end "
              f"({batch * (args.new_tokens - 1) / decode:7.1f} tok/s decode steps) | "
              f"step loop {n / loop:7.1f} tok/s end-to-end "
              f"(overhead {overhead_ms:6.2f} ms/step) | "
              f"transformers generate {n / reference:7.1f} tok/s end-to-end")


if __name__ == "__main__":
    main()
