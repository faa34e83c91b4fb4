"""Measurements behind the GPU performance card: the device's copy bandwidth and matmul rate, and
decode / prefill / interference timings of our engine and of transformers on the same model.

Each function times real work on `device` (CUDA or, for --dry-run, CPU) and returns seconds or
rates; the card (gpu_card.py) turns them into floors and ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from hireserve.server.engine import SamplingParams


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def copy_bandwidth(device: torch.device, nbytes: int, repeats: int = 10) -> float:
    """Bytes/s of a device-to-device copy, counting the read and the write."""
    src = torch.empty(nbytes // 2, dtype=torch.bfloat16, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    seconds = timed(lambda: dst.copy_(src), device, repeats)
    return 2 * nbytes / seconds


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 10) -> float:
    """FLOP/s of an n x n x n matmul in `dtype` (2 n^3 FLOPs each)."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, dtype=dtype, device=device, generator=g)
    b = torch.randn(n, n, dtype=dtype, device=device, generator=g)
    seconds = timed(lambda: a @ b, device, repeats)
    return 2 * n**3 / seconds


def _random_prompt(n: int, vocab: int, seed: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(10, vocab - 10, (n,), generator=g).tolist()


def _greedy(max_tokens: int) -> SamplingParams:
    return SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)


def engine_decode_step(llm: Any, batch: int, context: int, steps: int, vocab: int) -> float:
    """Median wall time of an engine step while `batch` requests of `context` prompt tokens
    decode (after every prompt is prefilled and one decode step has warmed up)."""
    engine = llm.engine
    for i in range(batch):
        engine.add_request(f"dec-{batch}-{i}", _random_prompt(context, vocab, i),
                           _greedy(steps + 4))
    produced: dict[str, int] = {}
    while len(produced) < batch or min(produced.values()) < 2:  # prefills + one warm step
        for out in engine.step().outputs:
            produced[out.request_id] = out.num_output_tokens
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        outs = engine.step().outputs
        times.append(time.perf_counter() - start)
        assert len([o for o in outs if o.new_token_ids]) == batch, "a decode step lost a request"
    while engine.has_unfinished():
        engine.step()
    return statistics.median(times)


def engine_prefill(llm: Any, length: int, vocab: int, seed: int = 1) -> float:
    """Seconds from adding one prompt of `length` tokens to its first token (chunked by the
    engine's step budget); nothing else runs."""
    engine = llm.engine
    engine.add_request(f"pre-{length}-{seed}", _random_prompt(length, vocab, seed), _greedy(1))
    start = time.perf_counter()
    while engine.has_unfinished():
        engine.step()
    return time.perf_counter() - start


def engine_itl_under_prefill(llm: Any, *, streams: int, short_len: int, long_len: int,
                             vocab: int, quiet_steps: int) -> dict[str, list[float]]:
    """Gaps between tokens of `streams` decoding requests: first `quiet_steps` with nothing
    else running, then while one `long_len` prompt is prefilled (until its first token)."""
    engine = llm.engine
    budget = min(10_000, engine.max_model_len - short_len)  # aborted when the prefill is done
    for i in range(streams):
        engine.add_request(f"itl-{i}", _random_prompt(short_len, vocab, 100 + i),
                           _greedy(budget))
    last: dict[str, float] = {}
    quiet: list[float] = []
    loaded: list[float] = []

    def step(into: list[float] | None) -> list[Any]:
        outs = engine.step().outputs
        now = time.perf_counter()
        for o in outs:
            if o.new_token_ids and o.request_id.startswith("itl-"):
                if into is not None and o.request_id in last:
                    into.append(now - last[o.request_id])
                last[o.request_id] = now
        return outs

    while len(last) < streams:
        step(None)
    for _ in range(quiet_steps):
        step(quiet)
    engine.add_request("itl-long", _random_prompt(long_len, vocab, 7), _greedy(1))
    while not any(o.request_id == "itl-long" and o.finished for o in step(loaded)):
        pass
    for i in range(streams):
        engine.abort_request(f"itl-{i}")
    while engine.has_unfinished():
        engine.step()
    return {"quiet": quiet, "during_prefill": loaded}


def hf_decode_step(hf: Any, batch: int, context: int, steps: int, vocab: int,
                   device: torch.device) -> float:
    """Median seconds of one transformers decode step (batch x 1 token, DynamicCache) after a
    prefill of `context` tokens per row: what `generate` does per token."""
    ids = torch.tensor([_random_prompt(context, vocab, i) for i in range(batch)], device=device)
    with torch.inference_mode():
        out = hf(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        times = []
        for _ in range(steps + 1):
            sync(device)
            start = time.perf_counter()
            out = hf(input_ids=nxt, past_key_values=cache, use_cache=True)
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            sync(device)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def hf_prefill(hf: Any, length: int, vocab: int, device: torch.device) -> float:
    """Seconds of one forward over a `length`-token prompt (last position's logits only)."""
    ids = torch.tensor([_random_prompt(length, vocab, 1)], device=device)
    with torch.inference_mode():
        sync(device)
        start = time.perf_counter()
        hf(input_ids=ids, use_cache=True, logits_to_keep=1)
        sync(device)
    return time.perf_counter() - start
