"""Admission errors the gRPC layer maps to status codes (INVALID_ARGUMENT, RESOURCE_EXHAUSTED).

Messages carry counts and limits only, never prompt content (resumes are personal data).
"""

from __future__ import annotations

from typing import Literal

LimitName = Literal["max_model_len", "kv_pool"]


class AdmissionError(Exception):
    """A request the scheduler refuses at `add()`; nothing was allocated."""


class PromptTooLongError(AdmissionError):
    """The prompt can never run: longer than the model's context or than the whole KV pool.

    `limit_name` says which: "max_model_len" (model context) or "kv_pool" (all KV blocks,
    after reserving room for the request's output). Maps to INVALID_ARGUMENT.
    """

    def __init__(self, num_tokens: int, limit: int, limit_name: LimitName) -> None:
        self.num_tokens = num_tokens
        self.limit = limit
        self.limit_name = limit_name
        what = {
            "max_model_len": "the model context (max_model_len, output included)",
            "kv_pool": "the whole KV cache pool (after reserving room for max_tokens)",
        }[limit_name]
        super().__init__(f"prompt has {num_tokens} tokens; at most {limit} fit in {what}")


class QueueFullError(AdmissionError):
    """The waiting queue is full; the client should retry later (RESOURCE_EXHAUSTED)."""

    def __init__(self, queue_len: int, limit: int) -> None:
        self.queue_len = queue_len
        self.limit = limit
        super().__init__(f"waiting queue is full ({queue_len} waiting, limit {limit})")
