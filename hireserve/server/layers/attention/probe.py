"""Where a scoring request's last prompt position looks: its attention over the prompt.

A scoring request may name spans of its prompt (the lines of a resume). The runner then sets an
`AttentionProbe` in the forward's metadata; the attention layers of the probe's band recompute,
for that one query row, softmax(q . K^T * scale) over the sequence's keys in the paged cache
(written by this very forward), average it over heads, and add it up. The runner sums it per
span. It costs one row of attention per probed layer: nothing next to the forward itself.

The band is the middle-to-late layers ([0.57, 0.79) of the depth): measured on Qwen2.5-Coder-1.5B
(layers 16-22 of 28) as the ones whose attention, relative to the other questions', points at
the resume line that shows a requirement (screening/evidence.py). Under tensor parallelism each
rank holds some of the heads; the probe records rank 0's heads only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

BAND = (0.57, 0.79)  # fraction of the depth: the probed layers are [lo * L, hi * L)


def probe_layers(num_layers: int) -> range:
    lo = min(round(BAND[0] * num_layers), num_layers - 1)
    hi = max(round(BAND[1] * num_layers), lo + 1)
    return range(lo, hi)


@dataclass
class AttentionProbe:
    """Rows to probe in one forward: the flattened query index of each probed chunk's last
    token, and the batch index of its sequence (its block table and K/V length)."""

    rows: list[int]
    batch_index: list[int]
    layers: range
    mass: list[torch.Tensor | None] = field(default_factory=list)  # per row: [ctx] fp32 sum

    def __post_init__(self) -> None:
        self.mass = [None] * len(self.rows)

    def record(self, layer: int, q: torch.Tensor, k_cache: torch.Tensor,
               block_tables: torch.Tensor, seq_lens: list[int], block_size: int,
               scale: float) -> None:
        """q [T, Hq, D]; k_cache [num_blocks, block_size, Hkv, D]."""
        if layer not in self.layers:
            return
        num_kv = k_cache.shape[2]
        for p, (row, b) in enumerate(zip(self.rows, self.batch_index, strict=True)):
            ctx = seq_lens[b]
            blocks = block_tables[b, : -(-ctx // block_size)]
            keys = k_cache[blocks].reshape(-1, num_kv, k_cache.shape[3])[:ctx]  # [ctx, Hkv, D]
            query = q[row].view(num_kv, -1, q.shape[-1])  # [Hkv, group, D]
            logits = torch.einsum("hgd,thd->hgt", query.float(), keys.float()) * scale
            weights = logits.softmax(dim=-1).mean(dim=(0, 1))  # [ctx]
            before = self.mass[p]
            self.mass[p] = weights if before is None else before + weights

    def span_mass(self, p: int, spans: tuple[tuple[int, int], ...]) -> tuple[float, ...]:
        """Row p's attention per span, averaged over the probed layers."""
        mass = self.mass[p]
        if mass is None:
            return tuple(0.0 for _ in spans)
        total = (mass / len(self.layers)).tolist()
        cumulative = [0.0]
        for x in total:
            cumulative.append(cumulative[-1] + x)
        n = len(total)
        return tuple(cumulative[min(e, n)] - cumulative[min(s, n)] for s, e in spans)
