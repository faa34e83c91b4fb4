"""Engine arguments, named as vLLM names them; the CLI flags of `hireserve serve` mirror them."""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
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


@functools.cache
def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16 in /proc/cpuinfo's flags (False where there is no such file)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return bool({"amx_bf16", "avx512_bf16"} & set(flags))


@dataclass(frozen=True)
class EngineArgs:
    model: str = "default"  # HF directory, .gguf file, preset name, or "default"
    dtype: str = "auto"  # auto: bf16 on CUDA; fp32 on CPU, bf16 for embedded Qwen2.5 on bf16 CPUs
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
    # Append the tokens a JSON grammar forces (the only one its mask allows) without sampling
    # them; the next step computes them in one chunk. Same tokens, fewer steps.
    enable_fast_forward: bool = True
    scheduling_policy: Literal["fcfs", "priority"] = "fcfs"
    rope_scaling: dict[str, Any] | None = None  # e.g. {"rope_type": "yarn", "factor": 4.0, ...}
    tensor_parallel_size: int = 1
    seed: int = 0  # seeds dummy weights and unseeded sampling
    # auto: a GGUF keeps its own 4-bit weights (int4) where activations are bf16/fp16 (CUDA,
    # or a bf16 CPU dtype), other checkpoints stay dense; int4 | int8 | none force it.
    quantization: str = "auto"
    cpu_threads: int | None = None  # torch threads per process on CPU; None: torch's default

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

    def _cpu_bf16_pays(self) -> bool:
        """bf16 on CPU for the embedded Qwen2.5 models when the CPU computes bf16 natively
        (AMX or AVX512-BF16). Measured with the 0.5B on the dev VM's AVX512-BF16 EPYC, quiet:
        prefill 3.8x, decode 2x, one Screen 2.1x faster than fp32 (README, embedded models).
        Everything else (test checkpoints, the SmolLM2 default, user directories) stays fp32:
        exact parity with transformers, and not measured."""
        from hireserve.server.models.embedded import EMBEDDED_MODELS

        return self.model.lower() in EMBEDDED_MODELS and cpu_has_native_bf16()

    def resolved_quantization(self, is_gguf: bool) -> str:
        """int4 | int8 | none. `auto` quantizes only GGUFs, and on CPU only with bf16/fp16
        activations: torch's CPU int4 kernel has no vectorized fp32 path (a scalar loop, ~30x
        slower than bf16), so an fp32 model stays dense."""
        from hireserve.server.models.quant_plan import QUANTIZATION_MODES

        if self.quantization != "auto":
            if self.quantization not in QUANTIZATION_MODES:
                raise ValueError(f"unknown quantization {self.quantization!r}: use auto or one "
                                 f"of {QUANTIZATION_MODES}")
            return self.quantization
        if not is_gguf:
            return "none"
        import torch

        fp32_cpu = self.resolved_device().type == "cpu" and self.resolved_dtype() == torch.float32
        return "none" if fp32_cpu else "int4"

    def apply_cpu_threads(self) -> None:
        """torch's intra-op threads for this process (once, at engine start): `cpu_threads`;
        by default torch's own choice (one per core, or OMP_NUM_THREADS), and under tensor
        parallelism an equal share of the cores per rank."""
        import os

        import torch

        if self.resolved_device().type != "cpu":
            return
        if self.cpu_threads is not None:
            torch.set_num_threads(self.cpu_threads)
        elif self.tensor_parallel_size > 1:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.tensor_parallel_size))

    def resolved_dtype(self) -> torch.dtype:
        import torch

        device = self.resolved_device()
        if self.dtype == "auto":
            if device.type == "cuda":
                return torch.bfloat16
            return torch.bfloat16 if self._cpu_bf16_pays() else torch.float32
        table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                 "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
        if self.dtype not in table:
            raise ValueError(f"unknown dtype {self.dtype!r}: use one of {sorted(table)}")
        dtype = table[self.dtype]
        if device.type == "cpu" and dtype is torch.float16:
            raise ValueError("fp16 is not supported on CPU: use float32 or bfloat16")
        return dtype
