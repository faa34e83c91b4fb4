"""The attention backend interface and the automatic choice between torch and flash-attn."""

from __future__ import annotations

import importlib.util
from typing import Protocol

import torch

from hireserve.server.layers.attention.metadata import AttentionMetadata

BACKENDS = ("auto", "torch", "flash_attn")
# flash-attn 2's paged kernels require cache blocks whose size is a multiple of 256 tokens.
FLASH_ATTN_BLOCK_MULTIPLE = 256


class AttentionBackend(Protocol):
    name: str

    def forward(
        self,
        q: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        meta: AttentionMetadata,
        scale: float,
    ) -> torch.Tensor:
        """q [T, Hq, D] (new K/V already in the cache) -> attention output [T, Hq, D]."""
        ...


def flash_attn_available() -> bool:
    return torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None


def select_backend(name: str, device: torch.device, block_size: int) -> AttentionBackend:
    """`auto` picks flash-attn on CUDA when it is installed and the block size allows it."""
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}: expected one of {BACKENDS}")
    if name == "auto":
        usable = (
            device.type == "cuda"
            and flash_attn_available()
            and block_size % FLASH_ATTN_BLOCK_MULTIPLE == 0
        )
        name = "flash_attn" if usable else "torch"
    if name == "flash_attn":
        from hireserve.server.layers.attention.flash_attn_backend import FlashAttnBackend

        return FlashAttnBackend(device, block_size)
    from hireserve.server.layers.attention.torch_backend import TorchBackend

    return TorchBackend()
