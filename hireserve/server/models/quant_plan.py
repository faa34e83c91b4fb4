"""Which method each linear layer gets: dense, int4 (groups, planes) or int8 (per row).

A plan maps a layer's name ("model.layers.3.self_attn.qkv_proj", "lm_head") to a `QuantSpec`;
layers it leaves out are dense. It is decided before the model is built, because a quantized
layer allocates its packed weight at construction:

- A GGUF at `int4` keeps the file's precision: the types in `gguf_quants.INT4_TYPES` become
  int4 groups of 32 with their own 4-bit values (Q4_x: one plane; Q5_0, Q8_0: two, exact).
  Q6_K and the other types, whose scales cover 16 weights, are rounded to 8 bits per group of
  32 in two planes: finer than the file's 6 bits, and faster than torch's int8 kernel, which
  also has only one scale per row (measured: benchmarks/RESULTS.md, "int4 weights"). A fused
  layer (q/k/v, gate/up) takes the most planes of its parts.
- A dense checkpoint (safetensors, dummy) at `int4` rounds every linear to nearest, groups of
  128 (smaller where a tensor-parallel shard's input is not a multiple of 128).
- `int8` makes every linear int8 per row; `none` keeps every layer dense.

The LM head (V x H, the largest matrix: a quarter of the 0.5B's decode reads) follows the same
rule: two planes for the 0.5B's Q8_0 head (exact) and the 1.5B's Q6_K one. Measured on the
0.5B: one plane (the head rounded to 4 bits) decodes 13% faster but moves the logits 8x more
than int8 per row does; int8 per row is 25% slower than two planes.
The embedding is never quantized (layers/embed_head.py says why).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from hireserve.server.layers.quantization.methods import QuantSpec
from hireserve.server.models.config import ModelConfig
from hireserve.server.models.gguf_quants import PLANES

QUANTIZATION_MODES = ("int4", "int8", "none")
RTN_GROUP_SIZES = (128, 64, 32)  # preferred first
_DENSE_TYPES = frozenset({"F32", "F16", "BF16"})

Plan = dict[str, QuantSpec]


def linear_layers(config: ModelConfig, tp_size: int = 1) -> Iterator[tuple[str, list[str], int]]:
    """(layer name, the checkpoint tensors it is made of, this rank's input size)."""
    h, inter = config.hidden_size, config.intermediate_size
    for i in range(config.num_layers):
        p = f"model.layers.{i}"
        yield (f"{p}.self_attn.qkv_proj",
               [f"{p}.self_attn.{x}_proj.weight" for x in "qkv"], h)
        yield f"{p}.self_attn.o_proj", [f"{p}.self_attn.o_proj.weight"], \
            config.num_heads * config.head_dim // tp_size
        yield f"{p}.mlp.gate_up_proj", [f"{p}.mlp.gate_proj.weight", f"{p}.mlp.up_proj.weight"], h
        yield f"{p}.mlp.down_proj", [f"{p}.mlp.down_proj.weight"], inter // tp_size
    head = "model.embed_tokens.weight" if config.tie_word_embeddings else "lm_head.weight"
    yield "lm_head", [head], h


def _native(gguf_type: str) -> QuantSpec | None:
    if gguf_type in _DENSE_TYPES:
        return None
    return QuantSpec("int4", 32, PLANES.get(gguf_type, 2))


def _widest(specs: list[QuantSpec | None]) -> QuantSpec | None:
    quantized = [s for s in specs if s is not None]
    if not quantized:
        return None
    return QuantSpec("int4", 32, max(s.planes for s in quantized))


def gguf_plan(config: ModelConfig, tensor_types: dict[str, str], mode: str,
              tp_size: int = 1) -> Plan:
    """`tensor_types`: checkpoint (HF) name -> GGUF type name, e.g. "Q4_K"."""
    if mode == "none":
        return {}
    if mode == "int8":
        return uniform_plan(config, mode, tp_size)
    _check_mode(mode)
    plan: Plan = {}
    for name, parts, _ in linear_layers(config, tp_size):
        spec = _widest([_native(tensor_types[p]) for p in parts])
        if spec is not None:
            plan[name] = spec
    return plan


def uniform_plan(config: ModelConfig, mode: str, tp_size: int = 1) -> Plan:
    """Every linear layer at `mode`, for checkpoints that hold dense weights."""
    _check_mode(mode)
    if mode == "none":
        return {}
    plan: Plan = {}
    for name, _, in_size in linear_layers(config, tp_size):
        if mode == "int8":
            plan[name] = QuantSpec("int8")
            continue
        group = next((g for g in RTN_GROUP_SIZES if in_size % g == 0), None)
        if group is None:
            raise ValueError(f"{name}: input size {in_size} is not a multiple of 32, "
                             "so it cannot be quantized to int4 groups")
        plan[name] = QuantSpec("int4", group)
    return plan


def _check_mode(mode: str) -> None:
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"unknown quantization {mode!r}: expected one of {QUANTIZATION_MODES}")


def to_json(plan: Plan) -> str:
    return json.dumps({name: spec.to_json() for name, spec in sorted(plan.items())})


def from_json(text: str) -> Plan:
    return {name: QuantSpec.from_json(d) for name, d in json.loads(text).items()}


def summary(plan: Plan, config: ModelConfig) -> str:
    """e.g. 'int4x1: 74, int4x2: 12, int8: 15, dense: 0' over the model's linear layers."""
    counts: dict[str, int] = {}
    for name, _, _ in linear_layers(config):
        spec = plan.get(name)
        key = "dense" if spec is None else (
            f"int4x{spec.planes}/g{spec.group_size}" if spec.kind == "int4" else spec.kind)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
