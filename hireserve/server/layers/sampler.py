"""Batched token sampling: grammar bitmask, repetition penalty, temperature, top-k, top-p, min-p.

Everything runs on the logits' device in one pass over the batch. Greedy rows are exactly the
argmax of the penalised, masked logits. Random rows use the exponential race
(argmax(p / E), E ~ Exponential(1)), which samples from p exactly; a seeded row draws its E from
its own generator, so its tokens do not depend on what else is in the batch.
`constrained_logprobs` gives the rows that ask for them their top-k log-probabilities under the
grammar mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn


@dataclass
class SamplingTensors:
    temperature: Tensor  # [n] f32, 0 = greedy row
    top_p: Tensor  # [n] f32
    top_k: Tensor  # [n] int64, 0 (or -1) = disabled
    min_p: Tensor  # [n] f32
    repetition_penalty: Tensor  # [n] f32
    penalty_token_ids: (
        Tensor | None
    )  # [n, L] int64, padded with vocab_size; None if no row penalises
    generators: list[torch.Generator | None]  # per row; seeded requests have their own
    all_greedy: bool

    @classmethod
    def from_params(
        cls,
        params: Sequence[RowSamplingParams],
        penalty_token_ids: Sequence[Sequence[int]],
        generators: Sequence[torch.Generator | None],
        vocab_size: int,
        device: torch.device | str,
    ) -> SamplingTensors:
        """Build the batch from per-row parameters (anything shaped like SamplingParams).

        `penalty_token_ids[i]` is row i's prompt + output tokens; it is only read for rows whose
        repetition_penalty differs from 1. `vocab_size` is the logits' width (the padding id).
        """
        n = len(params)
        if not (len(penalty_token_ids) == len(generators) == n):
            raise ValueError("params, penalty_token_ids and generators must have one entry a row")
        penalised = [p.repetition_penalty != 1.0 for p in params]
        ids: Tensor | None = None
        if any(penalised):
            # Unique ids per row keep the padded width small for long prompts.
            rows = [
                sorted(set(t)) if pen else []
                for t, pen in zip(penalty_token_ids, penalised, strict=True)
            ]
            width = max(1, max(len(r) for r in rows))
            padded = [r + [vocab_size] * (width - len(r)) for r in rows]
            ids = torch.tensor(padded, dtype=torch.int64).to(device, non_blocking=True)

        def f32(values: list[float]) -> Tensor:
            return torch.tensor(values, dtype=torch.float32).to(device, non_blocking=True)

        return cls(
            temperature=f32([p.temperature for p in params]),
            top_p=f32([p.top_p for p in params]),
            top_k=torch.tensor([p.top_k for p in params], dtype=torch.int64).to(device),
            min_p=f32([p.min_p for p in params]),
            repetition_penalty=f32([p.repetition_penalty for p in params]),
            penalty_token_ids=ids,
            generators=list(generators),
            all_greedy=all(p.temperature == 0.0 for p in params),
        )


class RowSamplingParams(Protocol):
    """The fields of hireserve.server.engine.SamplingParams the sampler reads (layers never
    import engine). Read-only, so frozen dataclasses match."""

    @property
    def temperature(self) -> float: ...
    @property
    def top_p(self) -> float: ...
    @property
    def top_k(self) -> int: ...
    @property
    def min_p(self) -> float: ...
    @property
    def repetition_penalty(self) -> float: ...


def unpack_bitmask(bitmask: Tensor, vocab_size: int) -> Tensor:
    """xgrammar's packed int32 bitmask [n, ceil(V/32)] -> bool [n, vocab_size] (True = allowed).

    Token t is bit (t % 32) of word t // 32. Tokens past the mask's width (embedding padding
    beyond the tokenizer's vocabulary) are disallowed.
    """
    shifts = torch.arange(32, device=bitmask.device, dtype=torch.int32)
    bits = (bitmask.to(torch.int32).unsqueeze(-1) >> shifts) & 1  # [n, W, 32]
    allowed = bits.flatten(1).bool()
    covered = allowed.shape[1]
    if covered >= vocab_size:
        return allowed[:, :vocab_size]
    pad = torch.zeros(
        allowed.shape[0], vocab_size - covered, dtype=torch.bool, device=allowed.device
    )
    return torch.cat([allowed, pad], dim=1)


def apply_repetition_penalty(logits: Tensor, token_ids: Tensor, penalty: Tensor) -> Tensor:
    """HF RepetitionPenaltyLogitsProcessor, batched: for each listed token, divide a positive
    logit by the penalty and multiply a negative one. `token_ids` is padded with V."""
    n, vocab = logits.shape
    padded = torch.cat([logits, logits.new_zeros(n, 1)], dim=1)  # column V absorbs the padding
    score = padded.gather(1, token_ids)
    p = penalty.unsqueeze(1)
    score = torch.where(score < 0, score * p, score / p)
    padded.scatter_(1, token_ids, score)
    return padded[:, :vocab]


def _apply_top_k_top_p(logits: Tensor, top_k: Tensor, top_p: Tensor) -> Tensor:
    """Mask (-inf) tokens outside top-k, then outside the top-p nucleus of what remains.

    Both cut at a value threshold, so tokens tied with the last kept token are all kept and the
    result does not depend on how the sort orders ties.
    """
    vocab = logits.shape[1]
    sorted_logits, _ = logits.sort(dim=1, descending=True)
    k = torch.where(top_k > 0, top_k.clamp(max=vocab), vocab)
    kth = sorted_logits.gather(1, (k - 1).unsqueeze(1))  # [n, 1]
    logits = logits.masked_fill(logits < kth, float("-inf"))
    # Nucleus on the top-k-renormalised distribution: keep the smallest prefix whose mass
    # reaches top_p (a token stays when the mass strictly before it is < top_p).
    sorted_logits = sorted_logits.masked_fill(sorted_logits < kth, float("-inf"))
    sorted_probs = sorted_logits.softmax(dim=1)
    mass_before = sorted_probs.cumsum(dim=1) - sorted_probs
    keep = mass_before < top_p.unsqueeze(1)
    keep[:, 0] = True
    last_kept = keep.sum(dim=1, keepdim=True) - 1
    threshold = sorted_logits.gather(1, last_kept)
    return logits.masked_fill(logits < threshold, float("-inf"))


def _apply_min_p(logits: Tensor, min_p: Tensor) -> Tensor:
    """Keep tokens with p >= min_p * p_max, i.e. logit >= max_logit + log(min_p)."""
    max_logit = logits.max(dim=1, keepdim=True).values
    threshold = max_logit + torch.log(min_p).unsqueeze(1)  # log(0) = -inf keeps everything
    return logits.masked_fill(logits < threshold, float("-inf"))


def _exponential_noise(
    shape: tuple[int, int], generators: list[torch.Generator | None], device: torch.device
) -> Tensor:
    """Exponential(1) noise [n, V]; seeded rows draw from their own generator, the others share
    one draw from the default generator."""
    noise = torch.empty(shape, dtype=torch.float32, device=device)
    unseeded = [i for i, g in enumerate(generators) if g is None]
    if unseeded:
        if len(unseeded) == shape[0]:
            noise.exponential_()
        else:
            rows = torch.tensor(unseeded, device=device)
            noise[rows] = torch.empty(len(unseeded), shape[1], device=device).exponential_()
    for i, g in enumerate(generators):
        if g is not None:
            # Draw on the generator's own device so a CPU generator also works for CUDA logits.
            row = torch.empty(shape[1], dtype=torch.float32, device=g.device)
            noise[i] = row.exponential_(generator=g).to(device, non_blocking=True)
    # A zero draw would turn a zero probability into 0/0 = NaN, which argmax would pick.
    return noise.clamp_(min=torch.finfo(torch.float32).tiny)


class Sampler(nn.Module):
    def forward(self, logits: Tensor, t: SamplingTensors, bitmask: Tensor | None = None) -> Tensor:
        """logits [n, V] -> sampled token ids [n] int64."""
        logits = logits.float()
        n, vocab = logits.shape
        if bitmask is not None:
            allowed = unpack_bitmask(bitmask, vocab)
            logits = logits.masked_fill(~allowed, float("-inf"))
        if t.penalty_token_ids is not None:
            logits = apply_repetition_penalty(logits, t.penalty_token_ids, t.repetition_penalty)
        greedy_tokens = logits.argmax(dim=1)
        if t.all_greedy:
            return greedy_tokens

        greedy_rows = t.temperature == 0
        # Greedy rows divide by 1; a tiny positive temperature is floored so logits stay finite.
        temperature = torch.where(greedy_rows, 1.0, t.temperature.clamp(min=1e-5))
        logits = logits / temperature.unsqueeze(1)
        if bool(((t.top_k > 0) & (t.top_k < vocab)).any()) or bool((t.top_p < 1).any()):
            logits = _apply_top_k_top_p(logits, t.top_k, t.top_p)
        if bool((t.min_p > 0).any()):
            logits = _apply_min_p(logits, t.min_p)
        probs = logits.softmax(dim=1)
        noise = _exponential_noise((n, vocab), t.generators, logits.device)
        sampled = (probs / noise).argmax(dim=1)
        return torch.where(greedy_rows, greedy_tokens, sampled)


def constrained_logprobs(
    logits: Tensor, bitmask: Tensor | None, chosen: Tensor, k: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Log-probabilities under the grammar: log_softmax of the masked fp32 logits, before any
    penalty or temperature (vLLM reports the raw model's; a grammar's caller wants how likely
    each allowed answer is). Rows [n] -> (top-k values [n, k], their ids [n, k], the chosen
    tokens' values [n]). A disallowed token has -inf."""
    logits = logits.float()
    if bitmask is not None:
        logits = logits.masked_fill(~unpack_bitmask(bitmask, logits.shape[1]), float("-inf"))
    logprobs = logits.log_softmax(dim=1)
    top = logprobs.topk(k, dim=1) if k > 0 else None
    chosen_lp = logprobs.gather(1, chosen.view(-1, 1)).squeeze(1)
    if top is None:
        empty = logprobs.new_empty(logprobs.shape[0], 0)
        return empty, empty.long(), chosen_lp
    return top.values, top.indices, chosen_lp
