"""The transformers baseline: `generate` on the same model and token ids, static batches with left
padding (every request of a batch waits for the batch), or one request at a time.

All requests arrive at t0, like a closed-loop run of the server at concurrency = number of
requests, so TTFT includes the wait for earlier batches. The first token of a batch is timed by a
logits processor (called once per decoding step, right after the forward that produced the
logits); its later calls give the inter-token gaps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.stats import RequestRecord


class _StepClock:
    """A LogitsProcessor that only records when each decoding step's logits are ready."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self.times.append(time.perf_counter())
        return scores


def load_hf_model(model: str, dtype: torch.dtype = torch.float32,
                  device: str = "cpu") -> torch.nn.Module:
    """The same checkpoint the server loads: "default" (the embedded GGUF) or an HF directory."""
    from transformers import AutoModelForCausalLM

    from hireserve.server.models.source import SourceKind, resolve_model

    source = resolve_model(model)
    if source.path is None:
        raise ValueError(f"{model!r} has no weights on disk for transformers to load")
    kwargs: dict[str, Any] = {"dtype": dtype}
    if source.kind is SourceKind.GGUF:
        kwargs["gguf_file"] = source.path.name
        folder: Path = source.path.parent
    else:
        folder = source.path
    return AutoModelForCausalLM.from_pretrained(folder, **kwargs).to(device).eval()


def generate_static(hf: torch.nn.Module, prompts: Sequence[list[int]], *, batch_size: int,
                    max_new_tokens: int, pad_token_id: int,
                    t0: float | None = None) -> list[RequestRecord]:
    """Greedy `generate` over `prompts` in order, `batch_size` at a time, exactly
    `max_new_tokens` each (min = max, so EOS is ignored). Returns one record per prompt."""
    from transformers import LogitsProcessorList

    device = next(hf.parameters()).device
    t0 = time.perf_counter() if t0 is None else t0
    records: list[RequestRecord] = []
    for lo in range(0, len(prompts), batch_size):
        batch = prompts[lo:lo + batch_size]
        width = max(len(p) for p in batch)
        ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, p in enumerate(batch):  # left padding: every prompt ends at the last column
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        clock = _StepClock()
        with torch.inference_mode():
            out = hf.generate(
                ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens,
                min_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_token_id,
                logits_processor=LogitsProcessorList([clock]),
            )
        end = time.perf_counter()
        produced = out.shape[1] - width
        for p in batch:
            records.append(RequestRecord(
                start=t0, end=end, ok=produced == max_new_tokens,
                error="" if produced == max_new_tokens else "SHORT_OUTPUT",
                first_token=clock.times[0], chunk_times=list(clock.times),
                output_tokens=produced, prompt_tokens=len(p),
            ))
    return records
