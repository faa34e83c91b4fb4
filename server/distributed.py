"""Tensor-parallel group: rank, size and the two collectives the layers call.

Without an initialised process group (the single-GPU and CPU case) the rank is 0, the size is
1 and the collectives return their input unchanged, so the layers need no special case.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def _group_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_tp_rank() -> int:
    return dist.get_rank() if _group_active() else 0


def get_tp_size() -> int:
    return dist.get_world_size() if _group_active() else 1


def all_reduce(x: torch.Tensor) -> torch.Tensor:
    """Sum of `x` over the TP ranks (in place when a group exists)."""
    if _group_active():
        dist.all_reduce(x)
    return x


def all_gather(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Concatenation of every rank's `x` along `dim`, in rank order."""
    if not _group_active():
        return x
    parts = [torch.empty_like(x) for _ in range(get_tp_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=dim)
