"""Scheduler limits and policies, fixed for the life of a server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Policy = Literal["fcfs", "priority"]


@dataclass(frozen=True)
class SchedulerConfig:
    """Every knob of the continuous-batching scheduler.

    `max_num_batched_tokens` is the per-step token budget (decodes + prefill chunks).
    A prompt whose uncached part is longer than `long_prefill_token_threshold` is "long": it is
    prefilled in chunks of at most that many tokens, and at most one long prompt is in flight,
    so a 128K resume never freezes the other streams.
    """

    num_blocks: int
    block_size: int = 16
    max_num_batched_tokens: int = 8192
    max_num_seqs: int = 256
    max_model_len: int = 32768
    long_prefill_token_threshold: int = 4096
    max_waiting: int = 4096
    policy: Policy = "fcfs"
    enable_prefix_caching: bool = True
    enable_chunked_prefill: bool = True
    itl_target_s: float | None = None  # None: latency-aware chunking off (fixed budget)
    # False reproduces nano-vllm: a step runs prefills only, or decodes only (prefills first).
    mix_prefill_decode: bool = True
    # Blocks kept free when admitting a new request, so running decodes are not preempted by
    # the very next step's growth (vLLM v0's watermark). Fraction of num_blocks.
    admission_watermark: float = 0.01

    def __post_init__(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ValueError(f"SchedulerConfig: {msg}")

        need(self.block_size >= 1, f"block_size must be >= 1, got {self.block_size}")
        need(self.num_blocks >= 1, f"num_blocks must be >= 1, got {self.num_blocks}")
        need(self.max_num_seqs >= 1, f"max_num_seqs must be >= 1, got {self.max_num_seqs}")
        need(self.max_model_len >= 2, f"max_model_len must be >= 2, got {self.max_model_len}")
        need(self.max_waiting >= 0, f"max_waiting must be >= 0, got {self.max_waiting}")
        need(
            self.max_num_batched_tokens >= self.max_num_seqs,
            f"max_num_batched_tokens ({self.max_num_batched_tokens}) must be >= max_num_seqs "
            f"({self.max_num_seqs}): every running sequence needs room for its decode token",
        )
        need(
            self.long_prefill_token_threshold >= 1,
            f"long_prefill_token_threshold must be >= 1, got {self.long_prefill_token_threshold}",
        )
        need(
            self.policy in ("fcfs", "priority"),
            f"policy must be 'fcfs' or 'priority', got {self.policy!r}",
        )
        need(
            0.0 <= self.admission_watermark < 1.0,
            f"admission_watermark must be in [0, 1), got {self.admission_watermark}",
        )
        if not self.enable_chunked_prefill:
            # Without chunking a prompt runs in one step, so the budget must hold the longest one.
            need(
                self.max_num_batched_tokens >= self.max_model_len,
                f"max_num_batched_tokens ({self.max_num_batched_tokens}) must be >= "
                f"max_model_len ({self.max_model_len}) when chunked prefill is off; "
                "enable chunked prefill or raise the budget",
            )
        if self.itl_target_s is not None:
            need(self.itl_target_s > 0, f"itl_target_s must be > 0, got {self.itl_target_s}")

    @property
    def watermark_blocks(self) -> int:
        return int(self.admission_watermark * self.num_blocks)

    @property
    def kv_capacity_tokens(self) -> int:
        return self.num_blocks * self.block_size
