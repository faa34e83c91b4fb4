"""Our model through ModelRunner and the paged cache versus transformers, fp32."""

from __future__ import annotations

import pytest
import torch
from model_harness import Harness, TinyCheckpoint, random_tokens

from hireserve.server.layers.attention import torch_backend

ATOL = 1e-4


@pytest.mark.parametrize("length", [1, 5, 17, 64])
def test_prefill_logits_match_transformers(tiny: TinyCheckpoint, length: int) -> None:
    h = Harness(tiny.path)
    tokens = random_tokens(length, seed=length)
    seq = h.sequence(tokens)
    ours = h.all_logits(h.chunk(seq, 0, length))
    torch.testing.assert_close(ours, tiny.hf_logits(tokens), atol=ATOL, rtol=0)


def test_paged_decode_matches_full_forward(tiny: TinyCheckpoint) -> None:
    h = Harness(tiny.path)
    tokens = random_tokens(30, seed=7)
    reference = tiny.hf_logits(tokens)
    prompt = 6
    seq = h.sequence(tokens[:prompt])
    got = [h.logits(h.chunk(seq, 0, prompt))[0]]
    for t in tokens[prompt:]:  # teacher-forced decode, one token a step, across blocks
        seq.token_ids.append(t)
        got.append(h.logits(h.chunk(seq, seq.num_tokens - 1, 1))[0])
    torch.testing.assert_close(torch.stack(got), reference[prompt - 1 :], atol=ATOL, rtol=0)


@pytest.mark.parametrize("tile_budget", [None, 4096])
def test_mixed_batch_equals_each_sequence_alone(
    tiny: TinyCheckpoint, tile_budget: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if tile_budget is not None:  # forces the query-tiled path of long prefill chunks
        monkeypatch.setattr(torch_backend, "SCORES_BUDGET_BYTES", tile_budget)
    h = Harness(tiny.path)
    full = {name: random_tokens(n, seed=i) for i, (name, n) in
            enumerate({"d1": 7, "d2": 10, "d3": 14, "a": 21, "b": 11}.items())}
    # Step 1: three decode-to-be prompts and the first 8 tokens of "a", one batch.
    seqs = {k: h.sequence(v[:-1] if k.startswith("d") else v) for k, v in full.items()}
    h.logits(*(h.chunk(seqs[k], 0, seqs[k].num_tokens) for k in ("d1", "d2", "d3")),
             h.chunk(seqs["a"], 0, 8, sample=False))
    # Step 2: three decodes, "a" continues after its cached prefix, "b" starts.
    for k in ("d1", "d2", "d3"):
        seqs[k].token_ids.append(full[k][-1])
    chunks = [h.chunk(seqs[k], len(full[k]) - 1, 1) for k in ("d1", "d2", "d3")]
    chunks += [h.chunk(seqs["a"], 8, 13), h.chunk(seqs["b"], 0, 11)]
    ours = h.all_logits(*chunks)
    expected = torch.cat([
        *(tiny.hf_logits(full[k])[-1:] for k in ("d1", "d2", "d3")),
        tiny.hf_logits(full["a"])[8:],
        tiny.hf_logits(full["b"]),
    ])
    torch.testing.assert_close(ours, expected, atol=ATOL, rtol=0)
    # execute_logits returns the sampled rows: each chunk's last token (re-running the step
    # rewrites the same K/V into the same slots).
    last_rows = torch.tensor([0, 1, 2, 3 + 12, 3 + 13 + 10])
    torch.testing.assert_close(h.logits(*chunks), expected[last_rows], atol=ATOL, rtol=0)


def test_yarn_beyond_original_window_matches_transformers(tiny_qwen2_yarn: TinyCheckpoint) -> None:
    rotary = tiny_qwen2_yarn.hf.model.rotary_emb
    assert rotary.attention_scaling > 1.0  # transformers really applies YaRN here
    h = Harness(tiny_qwen2_yarn.path)
    assert h.config.rope_type == "yarn"
    tokens = random_tokens(200, seed=11)
    seq = h.sequence(tokens)
    # Prefilled in chunks of 64: positions 64..199 lie past original_max_position_embeddings.
    ours = torch.cat([h.all_logits(h.chunk(seq, s, min(64, 200 - s))) for s in range(0, 200, 64)])
    torch.testing.assert_close(ours, tiny_qwen2_yarn.hf_logits(tokens), atol=ATOL, rtol=0)
