"""GGUF checkpoints (llama.cpp format): config from the metadata, weights as the file holds them.

`weights()` yields each tensor dequantized to fp32, or, with `keep_int4=True`, the types that
map onto int4 groups of 32 (gguf_quants.py) as `Int4Groups` holding the file's own 4-bit values.

Tensor names are mapped to Hugging Face names so the same `load_weights` fills the model.
llama.cpp's converter permutes the rows of Llama's q/k projections (interleaved rotary halves);
they are un-permuted exactly as transformers does when it loads a GGUF. Qwen2 GGUFs are not
permuted. A file without `output.weight` ties the LM head to the token embedding.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hireserve.server.layers.quantization.weights import Int4Groups
from hireserve.server.models import gguf_quants
from hireserve.server.models.config import ModelConfig

_ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}
_GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_BLOCK = re.compile(r"^blk\.(\d+)\.(\w+)\.(weight|bias)$")


def hf_name(gguf_name: str) -> str:
    if gguf_name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[gguf_name]
    m = _BLOCK.match(gguf_name)
    if not m or m.group(2) not in _LAYER_NAMES:
        raise KeyError(f"GGUF tensor {gguf_name!r} is not part of a Llama/Qwen2 model")
    return f"model.layers.{m.group(1)}.{_LAYER_NAMES[m.group(2)]}.{m.group(3)}"


def unpermute_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Inverse of llama.cpp's q/k permutation: per head, rows (pairs interleaved) back to the
    rotate-half layout; works for weights [rows, in] and biases [rows]."""
    half = w.shape[0] // n_heads // 2
    return w.reshape(n_heads, half, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def _unpermute_planes(t: torch.Tensor, n_heads: int) -> torch.Tensor:
    """unpermute_rows on the rows of every plane of a [P, rows, ...] tensor."""
    return torch.stack([torch.from_numpy(unpermute_rows(p.numpy(), n_heads)) for p in t])


@functools.cache
def fast_reader_class() -> Any:
    """gguf's GGUFReader, parsing through a plain ndarray view of its memory map: the stock
    reader slices the np.memmap once per value, and memmap's per-slice bookkeeping made
    reading a Qwen2.5 GGUF (two 150K-entry string arrays) take 25 s instead of 6 s here."""
    import gguf

    class FastGGUFReader(gguf.GGUFReader):
        def _get(self, offset: int, dtype: Any, count: int = 1,
                 override_order: Any = None) -> Any:
            plain = self.__dict__.get("_plain")
            if plain is None:
                plain = self._plain = self.data.view(np.ndarray)
            count = int(count)
            end = offset + np.dtype(dtype).itemsize * count
            arr = plain[offset:end].view(dtype=dtype)[:count]
            order = self.byte_order if override_order is None else override_order
            return arr.view(arr.dtype.newbyteorder(order))

    return FastGGUFReader


class GGUFCheckpoint:
    def __init__(self, path: Path) -> None:
        import gguf

        self.path = Path(path)
        self._gguf = gguf
        self.reader = fast_reader_class()(str(self.path))
        self.arch = str(self._field("general.architecture"))
        if self.arch not in _ARCHITECTURES:
            raise ValueError(f"GGUF architecture {self.arch!r} is not supported "
                             f"(expected one of {sorted(_ARCHITECTURES)})")
        self.config = self._config()

    def _field(self, key: str, default: Any = None) -> Any:
        field = self.reader.fields.get(key)
        return default if field is None else field.contents()

    def _config(self) -> ModelConfig:
        a = self.arch
        names = {t.name for t in self.reader.tensors}
        hidden = int(self._field(f"{a}.embedding_length"))
        heads = int(self._field(f"{a}.attention.head_count"))
        head_dim = self._field(f"{a}.attention.key_length")
        if head_dim is None and a == "llama":
            head_dim = self._field(f"{a}.rope.dimension_count")
        vocab = self._field(f"{a}.vocab_size")
        if vocab is None:
            vocab = len(self.reader.fields["tokenizer.ggml.tokens"].data)
        scaling = None
        rope_type = self._field(f"{a}.rope.scaling.type")
        if rope_type and rope_type != "none":
            scaling = {"rope_type": rope_type, "factor": self._field(f"{a}.rope.scaling.factor")}
            original = self._field(f"{a}.rope.scaling.original_context_length")
            if original:
                scaling["original_max_position_embeddings"] = int(original)
        eos = self._field("tokenizer.ggml.eos_token_id")
        return ModelConfig(
            architecture=_ARCHITECTURES[a],
            vocab_size=int(vocab),
            hidden_size=hidden,
            num_layers=int(self._field(f"{a}.block_count")),
            num_heads=heads,
            num_kv_heads=int(self._field(f"{a}.attention.head_count_kv", heads)),
            head_dim=int(head_dim or hidden // heads),
            intermediate_size=int(self._field(f"{a}.feed_forward_length")),
            rms_norm_eps=float(self._field(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)),
            rope_theta=float(self._field(f"{a}.rope.freq_base", 10000.0)),
            max_position_embeddings=int(self._field(f"{a}.context_length", 2048)),
            tie_word_embeddings="output.weight" not in names,
            attention_bias=a == "qwen2" or "blk.0.attn_q.bias" in names,
            rope_scaling=scaling,
            bos_token_id=self._field("tokenizer.ggml.bos_token_id"),
            eos_token_ids=() if eos is None else (int(eos),),
        )

    def tensor_types(self) -> dict[str, str]:
        """HF name -> GGUF type name ("Q4_K", "F32", ...) of every tensor."""
        return {hf_name(t.name): t.tensor_type.name for t in self.reader.tensors}

    def weights(self, keep_int4: bool = False
                ) -> Iterator[tuple[str, torch.Tensor | Int4Groups]]:
        """(HF name, fp32 tensor or Int4Groups) per GGUF tensor, one at a time."""
        c = self.config
        for t in self.reader.tensors:
            heads = None
            if self.arch == "llama" and t.name.split(".")[2:3] in (["attn_q"], ["attn_k"]):
                heads = c.num_heads if ".attn_q." in t.name else c.num_kv_heads
            if keep_int4 and t.tensor_type.name in gguf_quants.INT4_TYPES:
                rows, cols = (int(x) for x in reversed(t.shape))
                groups = gguf_quants.int4_groups(t.tensor_type.name, t.data, (rows, cols))
                if heads is not None:
                    groups = Int4Groups(_unpermute_planes(groups.q, heads),
                                        _unpermute_planes(groups.scale, heads),
                                        _unpermute_planes(groups.zero, heads), groups.group_size)
                yield hf_name(t.name), groups
                continue
            w = self._gguf.quants.dequantize(t.data, t.tensor_type)
            if heads is not None:
                w = unpermute_rows(w, heads)
            yield hf_name(t.name), torch.from_numpy(np.array(w, dtype=np.float32))
