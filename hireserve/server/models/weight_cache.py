"""Converted GGUF weights cached as one safetensors file, for a fast second start.

Reading a Qwen2.5 GGUF's metadata and converting its blocks takes tens of seconds on a CPU.
After the first load the model's own parameters (already fused, e.g. qkv_proj, in the
engine's dtype, and packed where a layer is quantized: int4pack bytes, scales_and_zeros) are
written next to the GGUF, named by its SHA-256, the dtype, the quantization mode, the TP layout
and FORMAT_VERSION (bump it when what is written changes). The model config and the
quantization plan go into the file's metadata, so a cached start never opens the GGUF. Packed
int4 bytes are in torch's CPU layout, which depends on the torch version and the CPU's vector
width: the metadata records both and a cache packed elsewhere is rebuilt.

A cached start on CPU does not copy the weights at all: each parameter becomes a view of the
memory-mapped file. Copying was the slow part here: first-touching 2.5 GB of fresh memory took
~10 s on this VM, while pages of the mapped file come from the page cache (and are shared by
every process serving the same model).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hireserve.server.models import quant_plan
from hireserve.server.models.config import ModelConfig

FORMAT_VERSION = 3
_DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16",
           torch.uint8: "U8", torch.int8: "I8", torch.int32: "I32"}
_SHORT = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def packing() -> str:
    """What the layout of packed int4 bytes depends on."""
    return f"torch {torch.__version__}, cpu {torch.backends.cpu.get_cpu_capability()}"


def cache_path(gguf: Path, sha256: str, dtype: torch.dtype, quantization: str = "none",
               tp_rank: int = 0, tp_size: int = 1) -> Path:
    layout = "" if tp_size == 1 else f".tp{tp_size}r{tp_rank}"
    quant = "" if quantization == "none" else f".{quantization}"
    name = f"{sha256}.{_SHORT[dtype]}{quant}{layout}.v{FORMAT_VERSION}.safetensors"
    return Path(gguf).with_name(name)


def read_entry(path: Path) -> tuple[ModelConfig, quant_plan.Plan] | None:
    """The config and quantization plan stored in a cache file, or None when there is no
    usable cache."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except Exception:  # a foreign or truncated file is a cache miss, rebuilt on this start
        return None
    if meta.get("format_version") != str(FORMAT_VERSION) or "config" not in meta:
        return None
    plan = quant_plan.from_json(meta.get("quantization", "{}"))
    if plan and meta.get("packing") != packing():
        return None
    fields: dict[str, Any] = json.loads(meta["config"])
    fields["eos_token_ids"] = tuple(fields["eos_token_ids"])
    return ModelConfig(**fields), plan


def read_config(path: Path) -> ModelConfig | None:
    entry = read_entry(path)
    return None if entry is None else entry[0]


def save(path: Path, model: nn.Module, config: ModelConfig,
         plan: quant_plan.Plan | None = None) -> None:
    """Writes the model's parameters (tied ones once) through a temporary file, renamed into
    place when complete: a crash never leaves a cache that looks finished."""
    params = list(model.named_parameters())
    header: dict[str, Any] = {"__metadata__": {
        "format_version": str(FORMAT_VERSION), "config": json.dumps(dataclasses.asdict(config)),
        "quantization": quant_plan.to_json(plan or {}), "packing": packing(),
    }}
    offset = 0
    for name, p in params:
        size = p.numel() * p.element_size()
        header[name] = {"dtype": _DTYPES[p.dtype], "shape": list(p.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors aligns the data section to 8 bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(len(raw).to_bytes(8, "little"))
            out.write(raw)
            for _, p in params:
                flat = p.detach().contiguous().cpu().view(-1).view(torch.uint8)
                out.write(flat.numpy().tobytes())  # one tensor's bytes at a time
        tmp.chmod(0o644)  # mkstemp makes it private; the cache is shared like ~/.cache
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path, model: nn.Module) -> bool:
    """Fills every parameter from the cache: on CPU the parameter becomes a view of the mapped
    file (no copy), elsewhere it is copied to the parameter's device. False, touching nothing,
    when the file does not fit the model (written by other code): the caller rebuilds it."""
    from safetensors.torch import load_file

    tensors = load_file(path)  # memory-mapped, not read
    params = dict(model.named_parameters())
    if set(tensors) != set(params) or any(
        tensors[n].shape != p.shape or tensors[n].dtype != p.dtype for n, p in params.items()
    ):
        return False
    for name, param in params.items():
        if param.device.type == "cpu":
            param.data = tensors[name]
        else:
            param.data.copy_(tensors[name])
    return True
