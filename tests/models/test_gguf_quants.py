"""GGUF blocks as int4 groups: the file's own 4-bit values, equal to gguf's dequantization, and
still equal once packed for torch's int4 kernel; which method each layer of the embedded models
gets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from gguf import quants

from hireserve.server.layers.quantization import int4pack
from hireserve.server.models import quant_plan
from hireserve.server.models.gguf_loader import GGUFCheckpoint
from hireserve.server.models.gguf_quants import INT4_TYPES, int4_groups
from hireserve.server.models.source import embedded_gguf_path, resolve_model


def _first(ckpt: GGUFCheckpoint, type_name: str) -> Any:
    """The smallest matrix of that type (not the 150K-row embedding)."""
    return min((t for t in ckpt.reader.tensors if t.tensor_type.name == type_name
                and len(t.shape) == 2), key=lambda t: int(t.n_elements))


def _check(tensor: Any) -> None:
    rows, cols = (int(x) for x in reversed(tensor.shape))
    groups = int4_groups(tensor.tensor_type.name, tensor.data, (rows, cols))
    expected = torch.from_numpy(
        quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)).view(rows, cols)
    assert groups.q.dtype == torch.uint8 and int(groups.q.max()) <= 15
    # The file's values, bit for bit.
    assert torch.equal(groups.dequantize(), expected), tensor.name
    # Packed for the kernel (fp32 scales; an identity input reads W^T back): equal to float32
    # rounding of (q - 8) * scale + zero, one fused multiply-add per plane.
    part = groups.narrow(0, 0, 16)  # fp32 runs the kernel's scalar loop: a few rows suffice
    side = [t.permute(1, 0, 2).reshape(16, -1) for t in (part.q, part.scale, part.zero)]
    packed, sz = int4pack.pack(*side, torch.float32)
    eye = torch.eye(cols).repeat(1, part.planes)
    w_t = int4pack.int4_mm(eye, packed, 32, sz)
    torch.testing.assert_close(w_t.T, expected[:16], rtol=1e-6, atol=1e-6)


def test_q4_1_blocks_of_smollm2() -> None:
    _check(_first(GGUFCheckpoint(embedded_gguf_path()), "Q4_1"))


@pytest.fixture(scope="module")
def qwen05_gguf() -> GGUFCheckpoint:
    source = resolve_model("qwen2.5-0.5b")
    assert source.path is not None
    return GGUFCheckpoint(source.path)


@pytest.mark.slow
@pytest.mark.parametrize("type_name", ["Q4_K", "Q5_0", "Q8_0"])
def test_qwen05_blocks(qwen05_gguf: GGUFCheckpoint, type_name: str) -> None:
    _check(_first(qwen05_gguf, type_name))


@pytest.mark.slow
def test_qwen05_plan_keeps_the_file_precision(qwen05_gguf: GGUFCheckpoint) -> None:
    types = qwen05_gguf.tensor_types()
    config = qwen05_gguf.config
    plan = quant_plan.gguf_plan(config, types, "int4")
    assert set(plan) == {name for name, _, _ in quant_plan.linear_layers(config)}
    for name, parts, _ in quant_plan.linear_layers(config):
        kinds = {types[p] for p in parts}
        spec = plan[name]
        assert spec.kind == "int4" and spec.group_size == 32
        # one plane exactly when every part is a 4-bit type
        assert (spec.planes == 1) == (kinds <= {"Q4_0", "Q4_1", "Q4_K"}), (name, kinds)
        assert kinds <= INT4_TYPES or spec.planes == 2  # Q6_K: rounded to 8 bits, two planes
    assert plan["lm_head"].planes == 2 and types["lm_head.weight"] == "Q8_0"
    assert quant_plan.gguf_plan(config, types, "none") == {}
    assert {s.kind for s in quant_plan.gguf_plan(config, types, "int8").values()} == {"int8"}
    assert quant_plan.from_json(quant_plan.to_json(plan)) == plan
