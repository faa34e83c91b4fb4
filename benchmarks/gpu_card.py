"""GPU performance card: Qwen2.5-7B-Instruct's shape with random weights (--load-format dummy),
bf16, one H100/H200, against floors measured on the same card in the same run.

    python -m benchmarks.gpu_card                 # needs CUDA
    python -m benchmarks.gpu_card --dry-run       # the whole card on CPU with a tiny config

- Decode step time at batch 1, 8, 64, 256 vs the memory-bandwidth floor: weight bytes per step
  over the device-to-device copy bandwidth (target: within 1.3x at batch 1).
- Prefill tokens/s for 2K, 32K and 128K prompts vs the compute floor: FLOPs (2 x matmul params
  per token + causal attention) over the measured bf16 matmul rate. 128K uses YaRN (x4 over 32K)
  and chunked prefill.
- Inter-token latency of 32 short streams while a 128K prompt is prefilled, vs without it.
- The same probes through transformers (same config, random weights, same card) as baseline;
  transformers cannot add a prompt to a running batch, so its streams stall for the whole
  prefill: its "ITL during prefill" is the measured 128K forward plus one decode step.
Writes gpu_card.json and gpu_card.md under --out.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks import gpu_probes as probes
from benchmarks.stats import percentile
from hireserve.server.models.presets import QWEN25_YARN


@dataclass(frozen=True)
class CardConfig:
    model: str  # preset name or HF directory (dummy weights either way)
    dtype: torch.dtype
    device: torch.device
    decode_batches: tuple[int, ...]
    decode_context: int
    decode_steps: int
    prefill_lengths: tuple[int, ...]
    chunk_budget: int  # max_num_batched_tokens: the chunk size of long prefills
    streams: int
    short_len: int
    long_len: int
    copy_bytes: int
    matmul_n: int
    rope_scaling: dict[str, Any]


def full_card(device: torch.device) -> CardConfig:
    return CardConfig("qwen2.5-7b-instruct", torch.bfloat16, device, (1, 8, 64, 256), 512, 20,
                      (2048, 32768, 131072), 8192, 32, 256, 131072, 4 * 2**30, 8192,
                      QWEN25_YARN)


def dry_card(model_dir: Path) -> CardConfig:
    """Same code paths on CPU in seconds: tiny Qwen2, context 1K stretched x4 by YaRN."""
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}
    return CardConfig(str(model_dir), torch.float32, torch.device("cpu"), (1, 8), 64, 4,
                      (128, 512, 3000), 256, 4, 32, 3000, 16 * 2**20, 256, yarn)


def write_tiny_qwen2(folder: Path) -> Path:
    """config.json of a tiny Qwen2 plus SmolLM2's tokenizer (the embedded GGUF's), enough for
    --load-format dummy."""
    from hireserve.server.engine.tokenizer import Tokenizer
    from hireserve.server.models.source import resolve_model

    tok = Tokenizer.from_source(resolve_model("default"))
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
              "vocab_size": len(tok.hf), "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 1024, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
              "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
              "torch_dtype": "float32"}
    (folder / "config.json").write_text(json.dumps(config))
    tok.hf.save_pretrained(folder)
    return folder


def matmul_params(model: torch.nn.Module) -> int:
    """Parameters a prefill token multiplies by: every 2-D weight except the embedding and the
    LM head (only the last position's logits are computed)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if p.dim() == 2 and "embed" not in name and "lm_head" not in name)


def prefill_flops(n: int, params: int, layers: int, heads: int, head_dim: int) -> float:
    """2 FLOPs per multiply-add: 2 N P for the projections, and causal attention's QK^T and PV
    (2 x 2 x H x D per query-key pair, N^2 / 2 pairs) per layer."""
    return 2 * n * params + 2 * layers * heads * head_dim * n * n


def ours(cfg: CardConfig, bandwidth: float, flops: float) -> dict[str, Any]:
    from hireserve.server.engine import LLM

    kv = {} if cfg.device.type == "cuda" else {"kv_cache_memory": "256MiB"}
    llm = LLM(cfg.model, load_format="dummy", dtype=str(cfg.dtype).removeprefix("torch."),
              device=str(cfg.device), rope_scaling=cfg.rope_scaling,
              max_num_batched_tokens=cfg.chunk_budget, max_num_seqs=max(cfg.decode_batches),
              enable_prefix_caching=False, **kv)
    model, mc = llm.engine.model, llm.engine.model_config
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    floor = weight_bytes / bandwidth
    out: dict[str, Any] = {"weight_bytes": weight_bytes, "decode": [], "prefill": []}
    for b in cfg.decode_batches:
        t = probes.engine_decode_step(llm, b, cfg.decode_context, cfg.decode_steps, mc.vocab_size)
        out["decode"].append({"batch": b, "step_ms": t * 1e3, "floor_ms": floor * 1e3,
                              "x_floor": t / floor})
    params = matmul_params(model)
    probes.engine_prefill(llm, cfg.prefill_lengths[0], mc.vocab_size, seed=99)  # warm-up
    for n in cfg.prefill_lengths:
        t = probes.engine_prefill(llm, n, mc.vocab_size)
        f = prefill_flops(n, params, mc.num_layers, mc.num_heads, mc.head_dim)
        out["prefill"].append({"tokens": n, "seconds": t, "tokens_per_s": n / t,
                               "floor_tokens_per_s": n / (f / flops), "x_floor": t / (f / flops)})
    gaps = probes.engine_itl_under_prefill(llm, streams=cfg.streams, short_len=cfg.short_len,
                                           long_len=cfg.long_len, vocab=mc.vocab_size,
                                           quiet_steps=cfg.decode_steps)
    out["itl"] = {k: _ms(v) for k, v in gaps.items()}
    out["matmul_params"] = params
    llm.engine.shutdown()
    del llm, model
    _free(cfg.device)
    return out


def transformers_baseline(cfg: CardConfig, bandwidth: float, flops: float) -> dict[str, Any]:
    from transformers import AutoConfig, AutoModelForCausalLM, Qwen2Config

    from hireserve.server.models.presets import QWEN25_7B_INSTRUCT as Q

    if Path(cfg.model).is_dir():
        hf_config = AutoConfig.from_pretrained(cfg.model)
    else:
        hf_config = Qwen2Config(vocab_size=Q.vocab_size, hidden_size=Q.hidden_size,
                                intermediate_size=Q.intermediate_size,
                                num_hidden_layers=Q.num_layers, num_attention_heads=Q.num_heads,
                                num_key_value_heads=Q.num_kv_heads, rms_norm_eps=Q.rms_norm_eps,
                                rope_theta=Q.rope_theta,
                                max_position_embeddings=Q.max_position_embeddings,
                                tie_word_embeddings=False)
    # the same YaRN, so 128K is in range (transformers 5 keeps theta inside rope_parameters)
    theta = (getattr(hf_config, "rope_parameters", None) or {}).get("rope_theta") or getattr(
        hf_config, "rope_theta", None) or 10000.0
    hf_config.rope_parameters = {**cfg.rope_scaling, "rope_theta": theta}
    with torch.device(cfg.device):
        hf = AutoModelForCausalLM.from_config(hf_config, dtype=cfg.dtype).eval()
    vocab = hf_config.vocab_size
    weight_bytes = sum(p.numel() * p.element_size() for p in hf.parameters())
    floor = weight_bytes / bandwidth
    out: dict[str, Any] = {"weight_bytes": weight_bytes, "decode": [], "prefill": []}
    for b in cfg.decode_batches:
        t = probes.hf_decode_step(hf, b, cfg.decode_context, cfg.decode_steps, vocab, cfg.device)
        out["decode"].append({"batch": b, "step_ms": t * 1e3, "floor_ms": floor * 1e3,
                              "x_floor": t / floor})
    params = matmul_params(hf)
    probes.hf_prefill(hf, cfg.prefill_lengths[0], vocab, cfg.device)  # warm-up
    for n in cfg.prefill_lengths:
        try:
            t = probes.hf_prefill(hf, n, vocab, cfg.device)
        except torch.OutOfMemoryError:
            out["prefill"].append({"tokens": n, "error": "out of memory"})
            _free(cfg.device)
            continue
        f = prefill_flops(n, params, hf_config.num_hidden_layers,
                          hf_config.num_attention_heads,
                          hf_config.hidden_size // hf_config.num_attention_heads)
        out["prefill"].append({"tokens": n, "seconds": t, "tokens_per_s": n / t,
                               "floor_tokens_per_s": n / (f / flops), "x_floor": t / (f / flops)})
    step = probes.hf_decode_step(hf, cfg.streams, cfg.short_len, cfg.decode_steps, vocab,
                                 cfg.device)
    long = next((p for p in out["prefill"] if p["tokens"] == cfg.long_len and "seconds" in p),
                None)
    stall = None if long is None else long["seconds"] + step
    out["itl"] = {"quiet": {"mean_ms": step * 1e3, "p50_ms": step * 1e3},
                  "during_prefill": {"max_ms": None if stall is None else stall * 1e3,
                                     "note": "streams wait for the whole prefill"}}
    del hf
    _free(cfg.device)
    return out


def _ms(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"count": 0}
    return {"count": len(xs), "mean_ms": statistics.fmean(xs) * 1e3,
            "p50_ms": percentile(xs, 50) * 1e3, "p99_ms": percentile(xs, 99) * 1e3,
            "max_ms": max(xs) * 1e3}


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def markdown(card: dict[str, Any]) -> str:
    dev = card["device"]
    lines = [f"Device: {dev['name']}; copy bandwidth {dev['copy_bandwidth_gbs']:.0f} GB/s, "
             f"{card['dtype']} matmul {dev['matmul_tflops']:.1f} TFLOP/s (n={dev['matmul_n']}). "
             f"Weights {card['ours']['weight_bytes'] / 1e9:.2f} GB per decode step.", "",
             "| decode batch | hireserve step (ms) | transformers step (ms) | floor (ms) "
             "| hireserve / floor | transformers / floor |",
             "| --- | --- | --- | --- | --- | --- |"]
    hf = card.get("transformers") or {"decode": [], "prefill": [], "itl": {}}
    hf_dec = {d["batch"]: d for d in hf["decode"]}
    for d in card["ours"]["decode"]:
        h = hf_dec.get(d["batch"], {})
        lines.append(f"| {d['batch']} | {d['step_ms']:.2f} | {_g(h.get('step_ms'))} | "
                     f"{d['floor_ms']:.2f} | {d['x_floor']:.2f}x | {_g(h.get('x_floor'), 'x')} |")
    lines += ["", "| prompt tokens | hireserve tok/s | transformers tok/s | compute floor tok/s "
              "| hireserve / floor time |", "| --- | --- | --- | --- | --- |"]
    hf_pre = {p["tokens"]: p for p in hf["prefill"]}
    for p in card["ours"]["prefill"]:
        h = hf_pre.get(p["tokens"], {})
        theirs = h.get("error") or _g(h.get("tokens_per_s"))
        lines.append(f"| {p['tokens']:,} | {p['tokens_per_s']:,.0f} | {theirs} | "
                     f"{p['floor_tokens_per_s']:,.0f} | {p['x_floor']:.2f}x |")
    q, busy = card["ours"]["itl"]["quiet"], card["ours"]["itl"]["during_prefill"]
    hq, hb = hf["itl"].get("quiet", {}), hf["itl"].get("during_prefill", {})
    lines += ["", f"ITL of {card['config']['streams']} streams (ms): hireserve quiet p50 "
              f"{_g(q.get('p50_ms'))} / p99 {_g(q.get('p99_ms'))}; during a "
              f"{card['config']['long_len']:,}-token prefill p50 {_g(busy.get('p50_ms'))} / "
              f"p99 {_g(busy.get('p99_ms'))} / max {_g(busy.get('max_ms'))}. transformers: "
              f"quiet {_g(hq.get('p50_ms'))}, during the prefill one gap of "
              f"{_g(hb.get('max_ms'))}."]
    return "\n".join(lines)


def _g(x: float | None, suffix: str = "") -> str:
    return "-" if x is None else f"{x:,.2f}{suffix}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_card",
                                description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true",
                   help="tiny config on CPU: checks the card end to end, numbers mean nothing")
    p.add_argument("--skip-transformers", action="store_true")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/gpu_card"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.dry_run:
            cfg = dry_card(write_tiny_qwen2(Path(tmp)))
        elif torch.cuda.is_available():
            cfg = full_card(torch.device("cuda"))
        else:
            p.error("no CUDA device: run on a GPU, or pass --dry-run")
        bandwidth = probes.copy_bandwidth(cfg.device, cfg.copy_bytes)
        flops = probes.matmul_rate(cfg.device, cfg.dtype, cfg.matmul_n)
        name = (torch.cuda.get_device_name(cfg.device) if cfg.device.type == "cuda"
                else f"CPU ({torch.get_num_threads()} threads, dry run)")
        card: dict[str, Any] = {
            "dry_run": args.dry_run, "dtype": str(cfg.dtype).removeprefix("torch."),
            "device": {"name": name, "copy_bandwidth_gbs": bandwidth / 1e9,
                       "matmul_tflops": flops / 1e12, "matmul_n": cfg.matmul_n},
            "config": {"model": "tiny-qwen2" if args.dry_run else cfg.model,
                       "decode_context": cfg.decode_context, "chunk_budget": cfg.chunk_budget,
                       "streams": cfg.streams, "short_len": cfg.short_len,
                       "long_len": cfg.long_len, "rope_scaling": cfg.rope_scaling},
        }
        card["ours"] = ours(cfg, bandwidth, flops)
        card["transformers"] = (None if args.skip_transformers
                                else transformers_baseline(cfg, bandwidth, flops))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_card.json").write_text(json.dumps(card, indent=2) + "\n")
    table = markdown(card)
    (args.out / "gpu_card.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
