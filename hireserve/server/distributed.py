"""Tensor-parallel group: rank, size and the collectives the layers call.

Without an initialised process group (the single-GPU and CPU case) the rank is 0, the size is
1 and the collectives return their input unchanged, so the layers need no special case. With
tensor parallelism every rank of the default process group is one TP rank (TP is the only
parallelism we have); `init_tp_group` / `destroy_tp_group` are called by
hireserve/server/engine/parallel/, never by the layers.
"""

from __future__ import annotations

import datetime
from typing import Any

import torch
import torch.distributed as dist


def _group_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_tp_rank() -> int:
    return dist.get_rank() if _group_active() else 0


def get_tp_size() -> int:
    return dist.get_world_size() if _group_active() else 1


def backend_for(device: torch.device) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_tp_group(
    *, rank: int, world_size: int, store: Any, backend: str, timeout_s: float
) -> None:
    """Joins the TP group. `timeout_s` bounds every collective, so a rank whose peer hangs
    fails with an error instead of waiting forever."""
    if dist.is_initialized():
        raise RuntimeError("a process group already exists in this process: one "
                           "tensor-parallel engine per process")
    dist.init_process_group(
        backend, store=store, rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout_s),
    )


def destroy_tp_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce(x: torch.Tensor) -> torch.Tensor:
    """Sum of `x` over the TP ranks (in place when a group exists)."""
    if _group_active():
        dist.all_reduce(x)
    return x


def broadcast_from_first(x: torch.Tensor) -> torch.Tensor:
    """Rank 0's `x` on every rank (in place)."""
    if _group_active():
        dist.broadcast(x, src=0)
    return x


def gather_to_first(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """On rank 0: every rank's `x` concatenated along `dim`, in rank order. On the other ranks
    `x` itself: only rank 0 samples, so nobody else needs the whole result."""
    if not _group_active():
        return x
    x = x.contiguous()
    if dist.get_rank() != 0:
        dist.gather(x, None, dst=0)
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.gather(x, parts, dst=0)
    return torch.cat(parts, dim=dim)


def all_gather(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Concatenation of every rank's `x` along `dim`, in rank order, on every rank."""
    if not _group_active():
        return x
    parts = [torch.empty_like(x) for _ in range(get_tp_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=dim)
