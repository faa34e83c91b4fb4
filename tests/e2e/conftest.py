"""A live server over the tiny random chat model, shared by the end-to-end tests of a module."""

from __future__ import annotations

import pytest
from server_thread import ServerThread, tiny_engine_args


@pytest.fixture(scope="module")
def server(tiny_chat):
    s = ServerThread(tiny_engine_args(tiny_chat))
    yield s
    s.stop()
