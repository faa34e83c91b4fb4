"""Pretend to be one rank of a tensor-parallel group, in one process: the layers read their
rank and group size when they are built, so building under `as_rank` gives that rank's shard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hireserve.server.layers import embed_head, linear


@contextmanager
def as_rank(monkeypatch: pytest.MonkeyPatch, rank: int, size: int) -> Iterator[None]:
    with monkeypatch.context() as m:
        for module in (linear, embed_head):
            m.setattr(module, "get_tp_rank", lambda: rank)
            m.setattr(module, "get_tp_size", lambda: size)
        yield
