"""Build a model and fill its weights: HF safetensors directory, GGUF file, or dummy weights.

An embedded GGUF (one whose SHA-256 is known) is converted once: the first load writes the
model's parameters (dense in the engine's dtype, or packed int4/int8) to a safetensors cache
(weight_cache.py), which later loads map instead.

The model is constructed directly on the target device in the target dtype (one allocation
per parameter), with the quantization plan (quant_plan.py) deciding each linear layer's method;
checkpoint tensors (read, dequantized, kept as int4 groups, or drawn at random) are then
streamed one at a time to the layer or parameter that cuts this rank's TP shard, and quantized
layers pack their weights once all are in (`finalize_weights`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hireserve.server.distributed import get_tp_rank, get_tp_size
from hireserve.server.layers.embed_head import ParallelLMHead
from hireserve.server.layers.linear import LinearBase, load_into
from hireserve.server.layers.quantization.weights import QuantizedWeight
from hireserve.server.models import quant_plan, weight_cache
from hireserve.server.models.config import ModelConfig
from hireserve.server.models.presets import preset_config
from hireserve.server.models.qwen2 import QuantPlan, Qwen2ForCausalLM
from hireserve.server.models.source import ModelSource, SourceKind

LOAD_FORMATS = ("auto", "dummy")
DUMMY_SEED = 0
DUMMY_STD = 0.02


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def build_model(config: ModelConfig, *, dtype: torch.dtype, device: torch.device,
                quant: QuantPlan | None = None) -> nn.Module:
    """The model with uninitialised weights, allocated once on `device` in `dtype`."""
    with _default_dtype(dtype), torch.device(device):
        model = Qwen2ForCausalLM(config, quant)
    return model.eval().requires_grad_(False)


def _quantized_layers(model: nn.Module) -> dict[str, LinearBase | ParallelLMHead]:
    """Layers whose weight a non-dense method stores (no `weight` parameter to copy into)."""
    return {name: m for name, m in model.named_modules()
            if isinstance(m, LinearBase | ParallelLMHead) and not hasattr(m, "weight")}


def load_weights(model: Qwen2ForCausalLM,
                 weights: Iterable[tuple[str, torch.Tensor | QuantizedWeight]]) -> None:
    """Copies HF-named checkpoint tensors into the model; every weight must be covered.
    Quantized layers are finalized (packed) at the end."""
    params = dict(model.named_parameters(remove_duplicate=False))
    quantized = _quantized_layers(model)
    missing = {n for n in dict(model.named_parameters())  # tied weights are counted once
               if n.rsplit(".", 1)[0] not in quantized or n.endswith(".bias")}
    missing |= {f"{name}.weight" for name in quantized}
    tied = model.config.tie_word_embeddings
    for name, tensor in weights:
        if "rotary_emb.inv_freq" in name:
            continue
        if name == "lm_head.weight" and tied:
            continue  # some tied checkpoints still store a copy; the embedding is the source
        if name == "model.embed_tokens.weight" and tied and "lm_head" in quantized:
            model.lm_head.load_weight(tensor)  # the head packs its own copy
            missing.discard("lm_head.weight")
        target, shard = name, None
        for fragment, (fused, shard_id) in model.packed_modules.items():
            if f".{fragment}." in name:
                target, shard = name.replace(f".{fragment}.", f".{fused}."), shard_id
                break
        layer, _, attr = target.rpartition(".")
        if layer in quantized and attr == "weight":
            if shard is None:
                quantized[layer].load_weight(tensor)
            else:
                quantized[layer].load_weight(tensor, shard)  # type: ignore[call-arg]
        elif target not in params:
            raise KeyError(f"checkpoint tensor {name!r} has no place in the model")
        elif shard is None:
            load_into(params[target], tensor)
        else:
            load_into(params[target], tensor, shard)
        missing.discard(target)
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} tensors, e.g. {sorted(missing)[:3]}")
    finalize_weights(model)


def finalize_weights(model: nn.Module) -> None:
    """Packs what quantized layers staged while loading (no-op for dense ones)."""
    for module in model.modules():
        if isinstance(module, LinearBase | ParallelLMHead):
            module.finalize()


def _safetensors(directory: Path) -> Iterator[tuple[str, torch.Tensor]]:
    from safetensors import safe_open

    index = directory / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        files = sorted(p.name for p in directory.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors weights in {directory}")
    for file in files:
        with safe_open(directory / file, framework="pt") as f:
            for name in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                yield name, f.get_tensor(name)


def checkpoint_shapes(config: ModelConfig) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(HF name, full shape) of every tensor a checkpoint of `config` holds."""
    h, d, inter = config.hidden_size, config.head_dim, config.intermediate_size
    yield "model.embed_tokens.weight", (config.vocab_size, h)
    for i in range(config.num_layers):
        p = f"model.layers.{i}"
        yield f"{p}.input_layernorm.weight", (h,)
        for name, heads in (("q", config.num_heads), ("k", config.num_kv_heads),
                            ("v", config.num_kv_heads)):
            yield f"{p}.self_attn.{name}_proj.weight", (heads * d, h)
            if config.attention_bias:
                yield f"{p}.self_attn.{name}_proj.bias", (heads * d,)
        yield f"{p}.self_attn.o_proj.weight", (h, config.num_heads * d)
        yield f"{p}.post_attention_layernorm.weight", (h,)
        yield f"{p}.mlp.gate_proj.weight", (inter, h)
        yield f"{p}.mlp.up_proj.weight", (inter, h)
        yield f"{p}.mlp.down_proj.weight", (h, inter)
    yield "model.norm.weight", (h,)
    if not config.tie_word_embeddings:
        yield "lm_head.weight", (config.vocab_size, h)


def dummy_weights(
    config: ModelConfig, *, dtype: torch.dtype, device: torch.device, seed: int = DUMMY_SEED
) -> Iterator[tuple[str, torch.Tensor]]:
    """Deterministic random checkpoint tensors of the real (unsharded) shape, drawn one at a
    time on `device`: N(0, 0.02) for matrices and biases, N(1, 0.02) for norm scales so
    activations keep their size. Same seed and device type, same tensors, so every TP rank cuts
    its shard from the same full weights and any TP size computes the same model."""
    gen = torch.Generator(device=device).manual_seed(seed)
    for name, shape in checkpoint_shapes(config):
        t = torch.empty(shape, dtype=dtype, device=device)
        yield name, t.normal_(1.0 if "norm" in name else 0.0, DUMMY_STD, generator=gen)


def load_model(
    source: ModelSource,
    *,
    dtype: torch.dtype,
    device: torch.device | str,
    load_format: str = "auto",
    rope_scaling: dict[str, Any] | None = None,
    quantization: str = "none",
) -> tuple[Qwen2ForCausalLM, ModelConfig]:
    """-> (model in eval mode on `device`, its config). `rope_scaling` overrides the
    checkpoint's (e.g. YaRN for long contexts); `quantization` is a mode of quant_plan.py."""
    if load_format not in LOAD_FORMATS:
        raise ValueError(f"unknown load format {load_format!r}: expected one of {LOAD_FORMATS}")
    device = torch.device(device)
    tp_rank, tp_size = get_tp_rank(), get_tp_size()
    cached = None  # the converted-weights cache of an embedded GGUF (weight_cache.py)
    if source.kind is SourceKind.GGUF and source.sha256 and load_format == "auto":
        assert source.path is not None
        # packed int4 bytes are laid out per device type: a CUDA cache is not a CPU one
        tag = quantization if device.type == "cpu" or quantization == "none" else \
            f"{quantization}-{device.type}"
        cached = weight_cache.cache_path(source.path, source.sha256, dtype, tag, tp_rank, tp_size)
        entry = weight_cache.read_entry(cached)
        if entry is not None:  # a cached start never opens the GGUF (its metadata is slow)
            config, plan = entry
            model = _build(config, rope_scaling, dtype, device, plan)
            if weight_cache.load(cached, model):
                return model, model.config
            # else written by other code: rebuilt from the GGUF below

    if source.kind is SourceKind.PRESET:
        if load_format != "dummy":
            raise ValueError(f"preset {source.name!r} has no weights: use load_format='dummy' "
                             "or a downloaded checkpoint directory")
        config = preset_config(source.name)
    elif source.kind is SourceKind.GGUF:
        from hireserve.server.models.gguf_loader import GGUFCheckpoint

        assert source.path is not None
        gguf = GGUFCheckpoint(source.path)
        config = gguf.config
        if load_format != "dummy":
            plan = quant_plan.gguf_plan(config, gguf.tensor_types(), quantization, tp_size)
            model = _build(config, rope_scaling, dtype, device, plan)
            load_weights(model, gguf.weights(keep_int4=quantization == "int4"))
            if cached is not None:
                weight_cache.save(cached, model, config, plan)
            return model, model.config
    else:
        assert source.path is not None
        config = ModelConfig.from_hf_dir(source.path)
    model = _build(config, rope_scaling, dtype, device,
                   quant_plan.uniform_plan(config, quantization, tp_size))
    if load_format == "dummy":
        load_weights(model, dummy_weights(config, dtype=dtype, device=device))
    else:
        assert source.path is not None
        load_weights(model, _safetensors(source.path))
    return model, model.config


def _build(config: ModelConfig, rope_scaling: dict[str, Any] | None, dtype: torch.dtype,
           device: torch.device, plan: QuantPlan) -> Qwen2ForCausalLM:
    if rope_scaling is not None:
        config = config.with_rope_scaling(rope_scaling)
    model = build_model(config, dtype=dtype, device=device, quant=plan)
    assert isinstance(model, Qwen2ForCausalLM)
    return model
