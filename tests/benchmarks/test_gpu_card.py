"""gpu_card --dry-run: the whole card (engine, transformers baseline, floors) on CPU with a tiny
config; plus its FLOP count against an independent count from the layer shapes."""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks import gpu_card


def test_dry_run_writes_a_complete_card(tmp_path: Path) -> None:
    assert gpu_card.main(["--dry-run", "--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "gpu_card.json").read_text())
    assert card["dry_run"] is True
    assert card["device"]["copy_bandwidth_gbs"] > 0 and card["device"]["matmul_tflops"] > 0
    for system in ("ours", "transformers"):
        result = card[system]
        assert [d["batch"] for d in result["decode"]] == [1, 8]
        for d in result["decode"]:
            assert d["step_ms"] > 0
            assert math.isclose(d["x_floor"], d["step_ms"] / d["floor_ms"], rel_tol=1e-9)
        assert [p["tokens"] for p in result["prefill"]] == [128, 512, 3000]
        for p in result["prefill"]:
            assert p["tokens_per_s"] > 0
            assert math.isclose(p["tokens_per_s"] * p["seconds"], p["tokens"], rel_tol=1e-9)
    # both load the same shapes: identical weight bytes
    assert card["ours"]["weight_bytes"] == card["transformers"]["weight_bytes"]
    # the 3,000-token prompt is past the 1,024 original window: YaRN and chunks of 256 ran it
    itl = card["ours"]["itl"]
    assert itl["quiet"]["count"] > 0 and itl["during_prefill"]["count"] > 0
    # streams kept decoding while the long prompt was prefilled in chunks
    assert itl["during_prefill"]["count"] >= card["config"]["streams"] * (3000 // 256)
    text = (tmp_path / "gpu_card.md").read_text()
    assert "decode batch" in text and "prompt tokens" in text


def test_prefill_flops_of_qwen25_7b() -> None:
    h, inter, layers, heads, kv, d = 3584, 18944, 28, 28, 4, 128
    per_layer = h * heads * d + 2 * h * kv * d + heads * d * h + 3 * h * inter
    n = 2048
    expected = 2 * n * layers * per_layer + layers * 2 * 2 * heads * d * n * n / 2
    assert gpu_card.prefill_flops(n, layers * per_layer, layers, heads, d) == expected
    assert 6.5e9 < layers * per_layer < 6.6e9  # 7.6B minus embedding and LM head
