"""The engine's tokenizer: one wrapper over a transformers fast tokenizer, whatever the source.

- HF_DIR: the checkpoint's own tokenizer files.
- GGUF: rebuilt from the GGUF metadata by transformers, then cached (reading it takes seconds).
- PRESET "qwen2.5-7b-instruct" and the embedded Qwen2.5 GGUFs (source.tokenizer "qwen2.5"):
  built offline from qwen.tiktoken (see qwen_tokenizer.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tokenizers import pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from hireserve.server.engine.qwen_tokenizer import (
    build_cached,
    cache_dir,
    load_fast_tokenizer,
    load_qwen25_tokenizer,
)
from hireserve.server.models.embedded import QWEN25_TOKENIZER
from hireserve.server.models.source import ModelSource, SourceKind

GGUF_CACHE_VERSION = 1

# Plain ChatML, for a model whose files carry no chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Tokens that end a turn in ChatML models and the usual end-of-text markers: generation stops
# on any of them even when the config names only one.
_STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "</s>")


class Tokenizer:
    def __init__(
        self, hf: PreTrainedTokenizerFast, name: str, extra_eos_ids: Iterable[int] = ()
    ) -> None:
        self.hf = hf  # xgrammar builds its token table from this
        self.name = name
        if hf.chat_template is None:
            hf.chat_template = CHATML_TEMPLATE
        eos = {int(i) for i in extra_eos_ids}
        if hf.eos_token_id is not None:
            eos.add(hf.eos_token_id)
        # Only added tokens count: Qwen's BPE vocabulary has an ordinary token spelled "</s>".
        added = hf.get_added_vocab()
        eos.update(added[t] for t in _STOP_TOKENS if t in added)
        self.eos_token_ids: frozenset[int] = frozenset(eos)
        # Base vocabulary plus added tokens; the model's embedding may have more (padded) rows.
        self.vocab_size: int = len(hf)

    @classmethod
    def from_source(cls, source: ModelSource) -> Tokenizer:
        if source.tokenizer == QWEN25_TOKENIZER:  # presets and the embedded Qwen2.5 GGUFs
            return cls(load_qwen25_tokenizer(), source.name)
        if source.kind is SourceKind.PRESET:
            raise ValueError(f"no tokenizer for preset {source.name!r}")
        if source.path is None:
            raise ValueError(f"{source.kind.value} source without a path")
        if source.kind is SourceKind.GGUF:
            return cls(_load_gguf_tokenizer(source.path), source.name)
        hf = AutoTokenizer.from_pretrained(source.path, local_files_only=True)
        if not isinstance(hf, PreTrainedTokenizerFast):
            raise TypeError(f"{source.path} has no fast (tokenizer.json) tokenizer")
        return cls(hf, source.name, _generation_config_eos(source.path))

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=add_special_tokens))

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return str(self.hf.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def render_chat(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        rendered = self.hf.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return str(rendered)

    def apply_chat_template(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> list[int]:
        # The template writes the special tokens itself; encoding must not add a BOS again.
        return self.encode(self.render_chat(messages, add_generation_prompt))

    def __repr__(self) -> str:
        return f"Tokenizer(name={self.name!r}, vocab_size={self.vocab_size})"


def _generation_config_eos(folder: Path) -> list[int]:
    """Instruct checkpoints often list their end-of-turn ids only in generation_config.json."""
    path = folder / "generation_config.json"
    if not path.is_file():
        return []
    value: Any = json.loads(path.read_text()).get("eos_token_id")
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, list) else [int(value)]


def _load_gguf_tokenizer(path: Path) -> PreTrainedTokenizerFast:
    stat = path.resolve().stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{GGUF_CACHE_VERSION}"
    folder = cache_dir() / f"gguf-tokenizer-{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def write(tmp: Path) -> None:
        hf = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
        _fix_pre_tokenizer(hf, path)
        hf.save_pretrained(tmp)

    build_cached(folder, write)
    return load_fast_tokenizer(folder)


def _fix_pre_tokenizer(hf: Any, path: Path) -> None:
    """transformers gives every GGUF "gpt2" tokenizer GPT-2's pre-tokenizer; SmolLM's splits
    digits one by one first (llama.cpp's "smollm" pre-tokenizer, HF's Digits + ByteLevel)."""
    import gguf  # local: only GGUF sources need it

    field = gguf.GGUFReader(str(path)).fields.get("tokenizer.ggml.pre")
    if field is not None and field.contents() == "smollm":
        hf.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
