"""SmolLM2-135M (the embedded GGUF) decode speed on this machine: our ModelRunner, our whole
step loop (`LLM.generate`: scheduler, runner, detokenizer) and transformers' generate, same
weights, same dtype, same run.

    python -m benchmarks.decode_speed [--new-tokens 64] [--prompt-len 128] [--dtype fp32]

Reports tokens/s at batch 1 and 8: "end-to-end" = prompt prefill + all new tokens (what
`generate` measures), "decode" = the per-token steps only (runner). "step loop" is the engine's
end to end over the same steps (one prefill step, then one decode step per token, prefix caching
off). "overhead" is the time per step outside the model's forward (the time minus the time
in the runner's `_logits`, measured in the same run): the runner's own (tensors in, sampling)
and the whole step loop's (scheduler, runner, fast-forward, detokenizer, outputs). It is
what the engine's Python adds, free of the forward's noise on a shared machine; "cpu" is the
same in this thread's CPU time, which other processes on the machine do not inflate.
"stubbed" is the step loop alone: `LLMEngine.step` while the batch decodes with the model's
forward replaced by fixed logits, in microseconds of thread CPU per step, the finest measure of
what the engine's Python costs. Each figure is the best of `--repeats` runs, the measurements
alternating.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

from hireserve.scheduler.output import ScheduledChunk, SchedulerOutput
from hireserve.scheduler.sequence import Sequence
from hireserve.server.engine import LLM, SamplingParams
from hireserve.server.engine.runner import ModelRunner
from hireserve.server.models.loader import load_model
from hireserve.server.models.source import DEFAULT_MODEL, resolve_model

try:  # decode chunks say so (issue 17); before it the runner batched one-token chunks itself,
    from hireserve.scheduler.sequence import ChunkKind  # and this script measures both

    DECODE: dict[str, Any] = {"kind": ChunkKind.DECODE}
except ImportError:
    DECODE = {}

BLOCK_SIZE = 16


class ForwardClock:
    """Times a runner's forward (`_logits`: the model and the LM head) while installed, in wall
    time and in this thread's CPU time (the engine steps on the caller's thread here)."""

    def __init__(self, runner: ModelRunner) -> None:
        self.reset()
        original: Callable[..., torch.Tensor] = runner._logits

        def timed(*args: Any) -> torch.Tensor:
            wall, cpu = time.perf_counter(), time.thread_time()
            logits = original(*args)
            self.wall += time.perf_counter() - wall
            self.cpu += time.thread_time() - cpu
            self.calls += 1
            return logits

        runner._logits = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.wall, self.cpu, self.calls = 0.0, 0.0, 0
        self.started = (time.perf_counter(), time.thread_time())

    def overhead_ms(self) -> tuple[float, float]:
        """Milliseconds per step outside the forward since reset(): (wall, thread CPU)."""
        wall = time.perf_counter() - self.started[0] - self.wall
        cpu = time.thread_time() - self.started[1] - self.cpu
        steps = max(1, self.calls)
        return wall / steps * 1e3, cpu / steps * 1e3


def ours(runner: ModelRunner, clock: ForwardClock, prompts: list[list[int]], new_tokens: int
         ) -> tuple[float, float, tuple[float, float]]:
    """-> (end-to-end seconds, decode-only seconds, overhead ms per step), greedy."""
    seqs = [Sequence(list(p)) for p in prompts]
    next_block = 0
    for s in seqs:
        blocks = -(-(len(s.token_ids) + new_tokens) // BLOCK_SIZE)
        s.block_table = list(range(next_block, next_block + blocks))
        next_block += blocks
    clock.reset()
    start = time.perf_counter()
    out = runner.execute(
        SchedulerOutput([ScheduledChunk(s, 0, s.num_tokens, True) for s in seqs])).sampled
    decode_start = time.perf_counter()
    for _ in range(new_tokens - 1):
        for s, t in zip(seqs, out, strict=True):
            assert t is not None
            s.token_ids.append(t)
        out = runner.execute(SchedulerOutput([
            ScheduledChunk(s, s.num_tokens - 1, 1, True, **DECODE) for s in seqs
        ])).sampled
    end = time.perf_counter()
    return end - start, end - decode_start, clock.overhead_ms()


def step_loop(llm: LLM, clock: ForwardClock, prompts: list[list[int]], new_tokens: int
              ) -> tuple[float, tuple[float, float]]:
    """(end-to-end seconds, overhead ms per step) of the same greedy tokens through the
    engine's step loop."""
    params = SamplingParams(temperature=0.0, max_tokens=new_tokens, ignore_eos=True)
    clock.reset()
    start = time.perf_counter()
    outputs = llm.generate(prompts, params)
    elapsed = time.perf_counter() - start
    overhead = clock.overhead_ms()
    assert all(len(o.token_ids) == new_tokens for o in outputs)
    assert clock.calls == new_tokens  # one prefill step, then one decode step per token
    return elapsed, overhead


STUBBED_STEPS = 200


def stubbed_step_us(llm: LLM, prompts: list[list[int]]) -> float:
    """Thread CPU microseconds per `LLMEngine.step` while `prompts` decode greedily, the
    model's forward replaced by fixed logits (the runner still builds its inputs and samples;
    the scheduler, detokenizer and outputs run as in service)."""
    engine, runner = llm.engine, llm.engine.runner
    logits = torch.randn(len(prompts), engine.model_config.vocab_size,
                         generator=torch.Generator().manual_seed(1))
    forward = runner._logits
    runner._logits = lambda inputs: logits[:len(inputs.meta.query_lens_cpu)]  # type: ignore[method-assign]
    params = SamplingParams(temperature=0.0, max_tokens=STUBBED_STEPS + 40, ignore_eos=True)
    ids = [f"stubbed-{i}" for i in range(len(prompts))]
    try:
        for rid, prompt in zip(ids, prompts, strict=True):
            engine.add_request(rid, prompt, params)
        for _ in range(20):  # the prefill, then decodes
            engine.step()
        start = time.thread_time()
        for _ in range(STUBBED_STEPS):
            engine.step()
        return (time.thread_time() - start) / STUBBED_STEPS * 1e6
    finally:
        for rid in ids:
            engine.abort_request(rid)
        runner._logits = forward  # type: ignore[method-assign]


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
    parser.add_argument("--skip-transformers", action="store_true",
                        help="ours and the step loop only (faster A/B runs of two commits)")
    args = parser.parse_args()
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]

    from transformers import AutoModelForCausalLM

    source = resolve_model(DEFAULT_MODEL)
    assert source.path is not None
    model, config = load_model(source, dtype=dtype, device="cpu")
    hf = None if args.skip_transformers else AutoModelForCausalLM.from_pretrained(
        source.path.parent, gguf_file=source.path.name, dtype=dtype
    ).eval()
    longest = args.prompt_len + max(args.new_tokens, STUBBED_STEPS + 40)
    llm = LLM(DEFAULT_MODEL, dtype=args.dtype, device="cpu", block_size=BLOCK_SIZE,
              num_kv_blocks=max(args.batches) * (-(-longest // BLOCK_SIZE)),
              max_num_batched_tokens=max(2048, max(args.batches) * args.prompt_len),
              enable_prefix_caching=False, attention_backend="torch")
    loop_clock = ForwardClock(llm.engine.runner)
    g = torch.Generator().manual_seed(0)
    print(f"SmolLM2-135M {args.dtype} CPU, {torch.get_num_threads()} threads, "
          f"prompt {args.prompt_len}, {args.new_tokens} new tokens")
    for batch in args.batches:
        prompts = torch.randint(3, config.vocab_size, (batch, args.prompt_len),
                                generator=g).tolist()
        blocks = batch * (-(-(args.prompt_len + args.new_tokens) // BLOCK_SIZE))
        runner = ModelRunner(model, config, device="cpu", dtype=dtype, block_size=BLOCK_SIZE,
                             num_blocks=blocks, attention_backend="torch")
        clock = ForwardClock(runner)
        with torch.inference_mode():
            ours(runner, clock, [p[:8] for p in prompts], 4)  # warm-up
            step_loop(llm, loop_clock, [p[:8] for p in prompts], 4)
            if hf is not None:
                theirs(hf, [p[:8] for p in prompts], 4)
            runs, loops, stubbed, references = [], [], [], []
            for _ in range(args.repeats):
                runs.append(ours(runner, clock, prompts, args.new_tokens))
                loops.append(step_loop(llm, loop_clock, prompts, args.new_tokens))
                stubbed.append(stubbed_step_us(llm, prompts))
                if hf is not None:
                    references.append(theirs(hf, prompts, args.new_tokens))
        total = min(r[0] for r in runs)
        decode = min(r[1] for r in runs)
        loop = min(t for t, _ in loops)
        n = batch * args.new_tokens

        def overhead(measured: list[tuple[float, float]]) -> str:
            return (f"overhead {min(w for w, _ in measured):5.2f} ms/step, "
                    f"cpu {min(c for _, c in measured):5.2f}")

        line = (f"batch {batch}: ours {n / total:7.1f} tok/s end-to-end "
                f"({batch * (args.new_tokens - 1) / decode:7.1f} tok/s decode steps, "
                f"{overhead([r[2] for r in runs])}) | "
                f"step loop {n / loop:7.1f} tok/s end-to-end "
                f"({overhead([o for _, o in loops])}; stubbed {min(stubbed):6.1f} us/step)")
        if references:
            line += f" | transformers generate {n / min(references):7.1f} tok/s end-to-end"
        print(line, flush=True)


if __name__ == "__main__":
    main()
