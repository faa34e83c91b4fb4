"""Quantized linear methods against a dense reference built from the same dequantized weights:
every parallel layer type, int4 (one and two planes, groups of 32 and 128, the int4 kernel and
the unpacked dense path of long prefills) and int8, at TP 1 and simulated TP 2; the unpacking
of torch's CPU int4 layout; rounding to 4 and 8 bits; the packed weight cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from tp_ranks import as_rank

from hireserve.server.layers import linear
from hireserve.server.layers.embed_head import ParallelLMHead
from hireserve.server.layers.linear import (
    ColumnParallelLinear,
    LinearBase,
    MergedColumnParallelLinear,
    QKVParallelLinear,
    ReplicatedLinear,
    RowParallelLinear,
)
from hireserve.server.layers.quantization import int4pack
from hireserve.server.layers.quantization.methods import (
    DENSE_MIN_TOKENS,
    Int4Method,
    Int8Method,
    LinearMethod,
)
from hireserve.server.layers.quantization.weights import Int4Groups, Int8Rows
from hireserve.server.models import weight_cache
from hireserve.server.models.loader import load_model
from hireserve.server.models.source import resolve_model

IN, OUT = 256, 96


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed + sum(shape))) * 0.1


METHODS: dict[str, Callable[[], LinearMethod]] = {
    "int4-g32": lambda: Int4Method(32), "int4-g128": lambda: Int4Method(128),
    "int4x2-g32": lambda: Int4Method(32, planes=2), "int8": Int8Method,
}


def _as_stored(method: str, w: torch.Tensor) -> torch.Tensor:
    """What a method makes of a full dense checkpoint tensor, dequantized: the reference."""
    if method == "int8":
        return Int8Rows.quantize(w).dequantize()
    planes = 2 if "x2" in method else 1
    return Int4Groups.quantize(w, 128 if "g128" in method else 32, planes).dequantize()


def _build(kind: str, method: Callable[[], LinearMethod], dtype: torch.dtype) -> LinearBase:
    with torch.device("cpu"):
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            if kind == "replicated":
                return ReplicatedLinear(IN, OUT, bias=True, method=method())
            if kind == "column":
                return ColumnParallelLinear(IN, OUT, bias=True, method=method())
            if kind == "merged":
                return MergedColumnParallelLinear(IN, [64, 32], bias=False, method=method())
            if kind == "qkv":  # 4 query heads, 2 KV heads of 16
                return QKVParallelLinear(IN, 16, 4, 2, bias=True, method=method())
            return RowParallelLinear(IN, OUT, bias=True, method=method())
        finally:
            torch.set_default_dtype(previous)


def _checkpoint(kind: str) -> dict[Any, torch.Tensor]:
    """Full checkpoint tensors by shard id (None: unsharded)."""
    if kind == "merged":
        return {0: _rand(64, IN, seed=1), 1: _rand(32, IN, seed=2)}
    if kind == "qkv":
        return {"q": _rand(64, IN, seed=3), "k": _rand(32, IN, seed=4),
                "v": _rand(32, IN, seed=5)}
    return {None: _rand(OUT, IN, seed=6)}


@pytest.mark.parametrize("tokens", [3, DENSE_MIN_TOKENS + 5])
@pytest.mark.parametrize("tp", [1, 2])
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("kind", ["replicated", "column", "merged", "qkv", "row"])
def test_quantized_layer_matches_dense_reference(
    monkeypatch: pytest.MonkeyPatch, kind: str, method: str, tp: int, tokens: int
) -> None:
    if kind == "replicated" and tp > 1:
        pytest.skip("replicated layers do not shard")
    parts = _checkpoint(kind)
    bias = _rand(OUT if kind != "merged" else 96, seed=7)
    x = _rand(tokens, IN, seed=8).bfloat16()
    # The reference: the dequantized full weight, dense, in fp32.
    if kind == "qkv":
        full = torch.cat([_as_stored(method, parts[s]) for s in "qkv"])
    else:
        full = torch.cat([_as_stored(method, t) for t in parts.values()])
    outputs = []
    for rank in range(tp):
        with as_rank(monkeypatch, rank, tp):
            layer = _build(kind, METHODS[method], torch.bfloat16)
        for shard_id, t in parts.items():
            layer.load_weight(t, *(() if shard_id is None else (shard_id,)))
        if kind == "qkv":
            for shard_id, b in (("q", bias[:64]), ("k", torch.zeros(32)), ("v", torch.zeros(32))):
                linear.load_into(layer.bias, b, shard_id)
        elif layer.bias is not None:
            linear.load_into(layer.bias, bias)
        layer.finalize()
        assert not hasattr(layer, "weight")
        mine = x.chunk(tp, -1)[rank] if kind == "row" else x  # row-parallel: split inputs
        outputs.append(layer(mine).float())
    x32 = x.float()
    if kind == "row":
        ours = sum(outputs)
        expected = x32 @ full.T + bias
    elif kind in ("column", "replicated"):
        ours = torch.cat(outputs, -1)
        expected = x32 @ full.T + bias
    elif kind == "merged":  # rank r holds [gate_r | up_r]
        ours = torch.cat(outputs, -1)
        y = x32 @ full.T
        gate, up = y[:, :64].chunk(tp, -1), y[:, 64:].chunk(tp, -1)
        expected = torch.cat([torch.cat([g, u], -1) for g, u in zip(gate, up, strict=True)], -1)
    else:  # qkv, rank r: [q heads | k heads | v heads] of its own; bias only on q here
        y = x32 @ full.T
        q, k, v = y[:, :64].chunk(tp, -1), y[:, 64:96].chunk(tp, -1), y[:, 96:].chunk(tp, -1)
        ours = torch.cat(outputs, -1)
        qb = bias[:64].chunk(tp)
        expected = torch.cat([torch.cat([q[r] + qb[r], k[r], v[r]], -1) for r in range(tp)],
                             -1)
    torch.testing.assert_close(ours, expected, atol=0.02, rtol=0.02)  # bf16 activations


@pytest.mark.parametrize("planes", [1, 2])
def test_rounding_error_is_within_half_a_step(planes: int) -> None:
    w = _rand(64, 256, seed=11)
    g = Int4Groups.quantize(w, 32, planes)
    assert g.planes == planes and g.q.max() <= 15
    groups = w.view(64, 8, 32)
    step = (groups.amax(-1) - groups.amin(-1)) / (16**planes - 1)
    err = (g.dequantize() - w).abs().view(64, 8, 32).amax(-1)
    assert (err <= step / 2 + 1e-6).all()
    # 8 bits per group of 32 beats int8 with one scale per row
    if planes == 2:
        int8_error = (Int8Rows.quantize(w).dequantize() - w).abs().mean()
        assert (g.dequantize() - w).abs().mean() < int8_error


def test_cpu_layout_unpacks_to_what_the_kernel_multiplies() -> None:
    assert int4pack.cpu_layout_block() in (64, 32)  # this machine's torch is AVX2 or better
    w = _rand(192, 256, seed=12)
    g = Int4Groups.quantize(w, 32, planes=2)
    q = g.q.permute(1, 0, 2).reshape(192, -1)
    s, z = (t.permute(1, 0, 2).reshape(192, -1) for t in (g.scale, g.zero))
    packed, sz = int4pack.pack(q, s, z, torch.bfloat16)
    w_t = int4pack.dequantize_t(packed, sz, 192, 512, 32, planes=2)
    eye = torch.eye(256, dtype=torch.bfloat16).repeat(1, 2)
    kernel = int4pack.int4_mm(eye, packed, 32, sz)  # rows: W^T, planes summed by the kernel
    # Two bf16 roundings (each plane, then their sum) vs the kernel's one: 2 ulps at |w| < 0.5
    torch.testing.assert_close(w_t.float(), kernel.float(), atol=4e-3, rtol=0)
    torch.testing.assert_close(w_t.float(), g.dequantize().T, atol=4e-3, rtol=0)


def test_dequantization_runs_in_and_out_of_inference_mode() -> None:
    """The engine dequantizes under inference_mode, tests and warm-ups outside it: the shared
    scratch buffers must stay writable in both, in either order."""
    w = _rand(128, 64, seed=15)
    g = Int4Groups.quantize(w, 32)
    packed, sz = int4pack.pack(g.q.permute(1, 0, 2).reshape(128, -1),
                               *(t.permute(1, 0, 2).reshape(128, -1) for t in (g.scale, g.zero)),
                               torch.bfloat16)
    int4pack._workspaces.clear()
    with torch.inference_mode():
        inside = int4pack.dequantize_t(packed, sz, 128, 64, 32).float().clone()
    outside = int4pack.dequantize_t(packed, sz, 128, 64, 32).float()
    torch.testing.assert_close(inside, outside, atol=0, rtol=0)
    torch.testing.assert_close(outside, g.dequantize().T, atol=4e-3, rtol=0)


def test_int4_head_pads_rows_and_cuts_the_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    vocab, dim = 509, 64  # 509 rows: not a multiple of the kernel's 16-row blocks
    table, hidden = _rand(vocab, dim, seed=13), _rand(3, dim, seed=14).bfloat16()
    expected = hidden.float() @ Int4Groups.quantize(table, 32).dequantize().T
    slices = []
    for rank in range(2):
        with as_rank(monkeypatch, rank, 2), torch.device("cpu"):
            torch.set_default_dtype(torch.bfloat16)
            try:
                head = ParallelLMHead(vocab, dim, Int4Method(32))
            finally:
                torch.set_default_dtype(torch.float32)
        head.load_weight(table)
        head.finalize()
        slices.append(head(hidden).float())
    assert slices[0].shape == (3, 255)
    torch.testing.assert_close(torch.cat(slices, -1)[:, :vocab], expected, atol=0.02, rtol=0.02)


def test_uniform_int4_model_caches_packed_weights(tiny_qwen2: Any, tmp_path: Path) -> None:
    source = resolve_model(tiny_qwen2.path)
    model, config = load_model(source, dtype=torch.bfloat16, device="cpu", quantization="int4")
    names = dict(model.named_parameters())
    assert names["model.layers.0.mlp.down_proj.qweight"].dtype == torch.uint8
    assert "lm_head.qweight" in names and "model.embed_tokens.weight" in names
    ids = torch.tensor([3, 17, 5, 9])
    path = tmp_path / "packed.safetensors"
    from hireserve.server.models.quant_plan import uniform_plan

    plan = uniform_plan(config, "int4")
    weight_cache.save(path, model, config, plan)
    assert weight_cache.read_entry(path) == (config, plan)
    from hireserve.server.models.loader import build_model

    fresh = build_model(config, dtype=torch.bfloat16, device=torch.device("cpu"), quant=plan)
    assert weight_cache.load(path, fresh)
    for name, p in fresh.named_parameters():
        assert torch.equal(p, names[name]), name
    emb = model.model.embed_tokens(ids)
    torch.testing.assert_close(fresh.lm_head(emb), model.lm_head(emb))
