"""Fixtures for the tensor-parallel tests: tiny random Qwen2 checkpoints (see tp_harness)."""

from __future__ import annotations

from typing import Any

import pytest
from tp_harness import Checkpoint, save_checkpoint


@pytest.fixture(scope="session")
def qwen2_kv4(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer: Any) -> Checkpoint:
    return save_checkpoint(tmp_path_factory.mktemp("tp_kv4"), 4, seed=11,
                           tokenizer=smollm2_tokenizer)


@pytest.fixture(scope="session")
def qwen2_kv2(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer: Any) -> Checkpoint:
    return save_checkpoint(tmp_path_factory.mktemp("tp_kv2"), 2, seed=12,
                           tokenizer=smollm2_tokenizer)
