"""Engine arguments, named as vLLM names them; the CLI flags of `hireserve serve` mirror them."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}


def parse_bytes(value: int | str) -> int:
    """'2GiB', '512MiB', '1.5G' or a plain number of bytes."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(value)
    if not m:
        raise ValueError(f"not a size: {value!r} (try 2GiB or 512MiB)")
    unit = (m.group(2) or "").upper().removesuffix("B")
    return int(float(m.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class EngineArgs:
    model: str = "default"  # HF directory, .gguf file, preset name, or "default"
    dtype: str = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    device: str = "auto"  # auto: cuda if available
    attention_backend: str = "auto"  # auto | torch | flash_attn
    load_format: str = "auto"  # auto | dummy (random weights of the real shape)
    block_size: int | None = None  # None: 256 where flash-attn will run (its paged kernels
    # need multiples of 256), else 16 (finer prefix-cache reuse)
    num_kv_blocks: int | None = None  # overrides the memory budget
    kv_cache_memory: int | str | None = None  # bytes for the KV pool, e.g. "2GiB"
    gpu_memory_utilization: float = 0.90  # CUDA, when kv_cache_memory is unset
    max_model_len: int | None = None  # default: the model's context (with rope scaling)
    max_num_batched_tokens: int = 2048  # per-step token budget
    max_num_seqs: int = 64
    max_waiting: int = 4096  # queue length before RESOURCE_EXHAUSTED
    long_prefill_token_threshold: int | None = None  # default: the step budget
    itl_target_ms: float | None = None  # latency-aware chunking target; None = fixed budget
    enable_prefix_caching: bool = True
    enable_chunked_prefill: bool = True
    scheduling_policy: Literal["fcfs", "priority"] = "fcfs"
    rope_scaling: dict[str, Any] | None = None  # e.g. {"rope_type": "yarn", "factor": 4.0, ...}
    tensor_parallel_size: int = 1
    seed: int = 0  # seeds dummy weights and unseeded sampling

    def replace(self, **changes: Any) -> EngineArgs:
        return dataclasses.replace(self, **changes)

    def resolved_device(self) -> torch.device:
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def resolved_block_size(self) -> int:
        if self.block_size is not None:
            return self.block_size
        from hireserve.server.layers.attention.backend import (
            FLASH_ATTN_BLOCK_MULTIPLE,
            flash_attn_available,
        )

        flash = self.attention_backend in ("auto", "flash_attn") and (
            self.resolved_device().type == "cuda" and flash_attn_available()
        )
        return FLASH_ATTN_BLOCK_MULTIPLE if flash else 16

    def resolved_dtype(self) -> torch.dtype:
        import torch

        device = self.resolved_device()
        if self.dtype == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                 "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
        if self.dtype not in table:
            raise ValueError(f"unknown dtype {self.dtype!r}: use one of {sorted(table)}")
        dtype = table[self.dtype]
        if device.type == "cpu" and dtype is torch.float16:
            raise ValueError("fp16 is not supported on CPU: use float32 or bfloat16")
        return dtype
