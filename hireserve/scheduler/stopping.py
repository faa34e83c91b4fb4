"""When a sequence stops, checked after each sampled token."""

from __future__ import annotations

from hireserve.scheduler.sequence import FinishReason, Sequence


def stop_reason(seq: Sequence, token: int, max_model_len: int) -> FinishReason | None:
    """`token` was just appended to `seq`. Stop tokens and EOS count only once `min_tokens`
    are out (EOS is ignored with `ignore_eos`); max_tokens and the model context cap it."""
    stop = seq.stop
    n_out = seq.num_output_tokens
    if n_out >= stop.min_tokens:
        if token in stop.stop_token_ids:
            return FinishReason.STOP
        if not stop.ignore_eos and token in stop.eos_token_ids:
            return FinishReason.STOP
    if n_out >= stop.max_tokens or seq.num_tokens >= max_model_len:
        return FinishReason.LENGTH
    return None
