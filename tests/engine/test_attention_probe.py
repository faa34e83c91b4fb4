"""A scoring request's attention probe: the attention mass its last prompt position puts on
named spans of the prompt, averaged over heads and over the probed layers, equals what
transformers' eager attention gives for the same checkpoint; with a cached prefix, chunked
prefill and other requests in the batch too."""

from __future__ import annotations

import pytest
import torch

from hireserve.server.engine import LLM, ScoringParams
from hireserve.server.engine.llm_engine import LLMEngine
from hireserve.server.layers.attention.probe import probe_layers

PROMPT = [1, 520, 2817, 314, 4030, 30, 1170, 2343, 28, 4932, 47, 2, 77, 88, 99, 1010, 2020, 3030,
          41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55]
SPANS = ((0, 5), (5, 12), (12, 20), (20, len(PROMPT) - 1), (len(PROMPT) - 1, len(PROMPT)))


@pytest.fixture(scope="module")
def hf_span_attention(tiny_chat):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_chat), dtype=torch.float32,
                                                 attn_implementation="eager").eval()

    def run(ids: list[int], spans: tuple[tuple[int, int], ...]) -> list[float]:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True)
        layers = probe_layers(len(out.attentions))
        rows = [out.attentions[i][0, :, -1, :].mean(dim=0) for i in layers]  # [ctx] per layer
        mean = torch.stack(rows).mean(dim=0)
        return [float(mean[a:b].sum()) for a, b in spans]

    return run


def _probe(llm: LLM, prompts: list[list[int]], spans) -> list[tuple[float, ...]]:
    engine: LLMEngine = llm.engine
    for i, ids in enumerate(prompts):
        engine.add_request(f"p{i}", ids, ScoringParams((5, 6), spans))
    got: dict[str, tuple[float, ...]] = {}
    while engine.has_unfinished():
        for out in engine.step().outputs:
            got[out.request_id] = out.attention
    return [got[f"p{i}"] for i in range(len(prompts))]


@pytest.mark.parametrize("budget", [512, 8])  # whole prompt in one chunk, or chunked prefill
def test_span_attention_matches_transformers(tiny_chat, hf_span_attention, budget) -> None:
    llm = LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=64, block_size=4,
              max_num_batched_tokens=budget, max_num_seqs=4)
    (ours,) = _probe(llm, [PROMPT], SPANS)
    expected = hf_span_attention(PROMPT, SPANS)
    assert ours == pytest.approx(expected, abs=1e-5)
    assert sum(ours) == pytest.approx(1.0, abs=1e-5)  # the spans cover the whole prompt


def test_a_cached_prefix_and_a_shared_batch_leave_the_probe_unchanged(tiny_chat,
                                                                      hf_span_attention) -> None:
    llm = LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=64, block_size=4)
    other = [*PROMPT[:20], 7, 8, 9, 10, 11]
    first, second = _probe(llm, [PROMPT, other], SPANS[:3])  # `other` reuses PROMPT's prefix
    assert first == pytest.approx(hf_span_attention(PROMPT, SPANS[:3]), abs=1e-5)
    assert second == pytest.approx(hf_span_attention(other, SPANS[:3]), abs=1e-5)
    assert llm.engine.scheduler.prefix_cache_hit_tokens > 0


def test_no_spans_no_probe_and_bad_spans_are_refused(tiny_chat) -> None:
    llm = LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=64)
    (out,) = llm.score([PROMPT], [5, 6])
    assert out.attention == ()
    for bad in (((3, 3),), ((-1, 2),), ((5, 2),)):
        with pytest.raises(ValueError, match="attention_spans"):
            ScoringParams((5,), bad)


def test_probe_band_is_the_middle_to_late_layers() -> None:
    assert list(probe_layers(28)) == list(range(16, 22))  # Qwen2.5-1.5B: measured there
    assert list(probe_layers(2)) == [1]
    assert len(probe_layers(1)) == 1
