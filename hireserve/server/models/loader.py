"""Build a model and fill its weights: HF safetensors directory, GGUF file, or dummy weights.

An embedded GGUF (one whose SHA-256 is known) is dequantized once: the first load writes the
model's parameters in the engine's dtype to a safetensors cache (weight_cache.py), which later
loads map instead.

The model is constructed directly on the target device in the target dtype (one allocation
per parameter); checkpoint tensors (read, dequantized or drawn at random) are then streamed
one at a time through each parameter's `weight_loader`, which cuts this rank's TP shard.
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
from hireserve.server.layers.linear import load_into
from hireserve.server.models import weight_cache
from hireserve.server.models.config import ModelConfig
from hireserve.server.models.presets import preset_config
from hireserve.server.models.qwen2 import Qwen2ForCausalLM
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


def build_model(config: ModelConfig, *, dtype: torch.dtype, device: torch.device) -> nn.Module:
    """The model with uninitialised weights, allocated once on `device` in `dtype`."""
    with _default_dtype(dtype), torch.device(device):
        model = Qwen2ForCausalLM(config)
    return model.eval().requires_grad_(False)


def load_weights(model: Qwen2ForCausalLM, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Copies HF-named checkpoint tensors into the model; every parameter must be covered."""
    params = dict(model.named_parameters(remove_duplicate=False))
    missing = set(dict(model.named_parameters()))  # tied weights are counted once
    for name, tensor in weights:
        if "rotary_emb.inv_freq" in name:
            continue
        if name == "lm_head.weight" and model.config.tie_word_embeddings:
            continue  # some tied checkpoints still store a copy; the embedding is the source
        target, shard = name, None
        for fragment, (fused, shard_id) in model.packed_modules.items():
            if f".{fragment}." in name:
                target, shard = name.replace(f".{fragment}.", f".{fused}."), shard_id
                break
        if target not in params:
            raise KeyError(f"checkpoint tensor {name!r} has no place in the model")
        param = params[target]
        if shard is None:
            load_into(param, tensor)
        else:
            load_into(param, tensor, shard)
        missing.discard(target)
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} tensors, e.g. {sorted(missing)[:3]}")


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
) -> tuple[Qwen2ForCausalLM, ModelConfig]:
    """-> (model in eval mode on `device`, its config). `rope_scaling` overrides the
    checkpoint's (e.g. YaRN for long contexts)."""
    if load_format not in LOAD_FORMATS:
        raise ValueError(f"unknown load format {load_format!r}: expected one of {LOAD_FORMATS}")
    device = torch.device(device)
    gguf = None
    cached = None  # the dequantized-weights cache of an embedded GGUF (weight_cache.py)
    if source.kind is SourceKind.GGUF and source.sha256 and load_format == "auto":
        assert source.path is not None
        cached = weight_cache.cache_path(source.path, source.sha256, dtype,
                                         get_tp_rank(), get_tp_size())
    cached_config = weight_cache.read_config(cached) if cached is not None else None
    if cached_config is not None:
        config = cached_config  # a cached start never opens the GGUF (its metadata is slow)
    elif source.kind is SourceKind.PRESET:
        if load_format != "dummy":
            raise ValueError(f"preset {source.name!r} has no weights: use load_format='dummy' "
                             "or a downloaded checkpoint directory")
        config = preset_config(source.name)
    elif source.kind is SourceKind.GGUF:
        from hireserve.server.models.gguf_loader import GGUFCheckpoint

        assert source.path is not None
        gguf = GGUFCheckpoint(source.path)
        config = gguf.config
    else:
        assert source.path is not None
        config = ModelConfig.from_hf_dir(source.path)
    if rope_scaling is not None:
        config = config.with_rope_scaling(rope_scaling)

    model = build_model(config, dtype=dtype, device=device)
    assert isinstance(model, Qwen2ForCausalLM)
    if load_format == "dummy":
        load_weights(model, dummy_weights(config, dtype=dtype, device=device))
    elif cached is not None and cached_config is not None and weight_cache.load(cached, model):
        pass
    else:
        if gguf is None and source.kind is SourceKind.GGUF:  # a stale cache: rebuild it
            from hireserve.server.models.gguf_loader import GGUFCheckpoint

            assert source.path is not None
            gguf = GGUFCheckpoint(source.path)
        if gguf is not None:
            load_weights(model, gguf.weights())
            if cached is not None:
                weight_cache.save(cached, model, gguf.config)
        else:
            assert source.path is not None
            load_weights(model, _safetensors(source.path))
    return model, config
