"""A live server over the tiny random chat model, shared by the end-to-end tests of a module."""

from __future__ import annotations

import pytest
from server_thread import ServerThread

from server.engine.args import EngineArgs


def tiny_engine_args(path, **changes) -> EngineArgs:
    args = EngineArgs(model=str(path), dtype="float32", device="cpu", num_kv_blocks=1024,
                      max_num_batched_tokens=1024, max_num_seqs=32)
    return args.replace(**changes)


@pytest.fixture(scope="module")
def server(tiny_chat):
    s = ServerThread(tiny_engine_args(tiny_chat))
    yield s
    s.stop()
