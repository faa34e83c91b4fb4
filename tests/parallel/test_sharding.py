"""Each parameter cuts its own shard as weights load, and the shards recompose the full layer.

Ranks are simulated in one process: the layers read their rank and size from
`server.distributed` at construction, patched here; without a process group the collectives
are identities, so a row-parallel layer returns its partial sum and the test adds them up.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tp_ranks import as_rank

from hireserve.server.layers.embed_head import ParallelLMHead, VocabParallelEmbedding
from hireserve.server.layers.linear import (
    ColumnParallelLinear,
    MergedColumnParallelLinear,
    QKVParallelLinear,
    RowParallelLinear,
    load_into,
    local_kv_heads,
)
from hireserve.server.models.loader import (
    build_model,
    checkpoint_shapes,
    dummy_weights,
    load_weights,
)
from hireserve.server.models.presets import QWEN25_7B_INSTRUCT


def _rand(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


@pytest.mark.parametrize("tp", [2, 4])
def test_column_and_row_parallel_recompose(monkeypatch: pytest.MonkeyPatch, tp: int) -> None:
    x, w_up, b_up, w_down, b_down = _rand(5, 16), _rand(24, 16), _rand(24), _rand(16, 24), _rand(16)
    full = torch.nn.functional.linear(
        torch.nn.functional.linear(x, w_up, b_up), w_down, b_down
    )
    total = torch.zeros_like(full)
    for r in range(tp):
        with as_rank(monkeypatch, r, tp):
            up, down = ColumnParallelLinear(16, 24, bias=True), RowParallelLinear(24, 16, True)
        load_into(up.weight, w_up)
        load_into(up.bias, b_up)
        load_into(down.weight, w_down)
        load_into(down.bias, b_down)
        total += down(up(x))  # rank r's partial sum (the all-reduce is the identity here)
    torch.testing.assert_close(total, full)


def test_merged_gate_up_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    gate, up = _rand(12, 8), _rand(12, 9)[:, :8]
    for r in range(2):
        with as_rank(monkeypatch, r, 2):
            layer = MergedColumnParallelLinear(8, [12, 12])
        load_into(layer.weight, gate, 0)
        load_into(layer.weight, up, 1)
        torch.testing.assert_close(layer.weight, torch.cat([gate[6 * r : 6 * r + 6],
                                                            up[6 * r : 6 * r + 6]]))


@pytest.mark.parametrize(("heads", "kv", "tp"), [(8, 4, 2), (8, 4, 4), (8, 2, 4), (8, 1, 4)])
def test_qkv_rank_holds_the_kv_heads_its_query_heads_use(
    monkeypatch: pytest.MonkeyPatch, heads: int, kv: int, tp: int
) -> None:
    d, hidden = 4, 16
    q, k, v = _rand(heads * d, hidden), _rand(kv * d, hidden), _rand(kv * d, hidden) + 1
    group = heads // kv  # grouped-query attention: query head h reads KV head h // group
    for r in range(tp):
        with as_rank(monkeypatch, r, tp):
            layer = QKVParallelLinear(hidden, d, heads, kv, bias=False)
        for shard, t in (("q", q), ("k", k), ("v", v)):
            load_into(layer.weight, t, shard)
        hq, hkv = layer.num_heads, layer.num_kv_heads
        assert (hq, hkv) == (heads // tp, max(1, kv // tp))
        my_q = list(range(r * hq, (r + 1) * hq))
        my_kv = sorted({h // group for h in my_q})  # the KV heads those queries need
        assert len(my_kv) == hkv
        rows = [i for h in my_kv for i in range(h * d, (h + 1) * d)]
        wq, wk, wv = layer.weight.split([hq * d, hkv * d, hkv * d])
        torch.testing.assert_close(wq, q[my_q[0] * d : (my_q[-1] + 1) * d])
        torch.testing.assert_close(wk, k[rows])
        torch.testing.assert_close(wv, v[rows])


def test_kv_heads_that_do_not_split_are_refused() -> None:
    assert local_kv_heads(4, 4) == 1 and local_kv_heads(2, 8) == 1 and local_kv_heads(4, 2) == 2
    with pytest.raises(ValueError, match="num_key_value_heads"):
        local_kv_heads(4, 3)
    with pytest.raises(ValueError, match="num_key_value_heads"):
        local_kv_heads(2, 3)


@pytest.mark.parametrize("tp", [2, 4])
def test_vocab_parallel_embedding_and_head(monkeypatch: pytest.MonkeyPatch, tp: int) -> None:
    vocab, dim = 11, 6  # 11 rows: the last rank's slice is padded at TP 2 and 4
    table, ids, hidden = _rand(vocab, dim), torch.tensor([0, 10, 5, 3, 7, 10]), _rand(3, dim)
    summed, slices = torch.zeros(len(ids), dim), []
    for r in range(tp):
        with as_rank(monkeypatch, r, tp):
            emb, head = VocabParallelEmbedding(vocab, dim), ParallelLMHead(vocab, dim)
        load_into(emb.weight, table)
        load_into(head.weight, table)
        summed += emb(ids)  # only the ids in this rank's slice contribute
        slices.append(head(hidden))  # [3, ceil(V / tp)]: this rank's part of the logits
    torch.testing.assert_close(summed, table[ids])
    torch.testing.assert_close(torch.cat(slices, -1)[:, :vocab], hidden @ table.T)


def test_checkpoint_shapes_match_transformers() -> None:
    from transformers import AutoModelForCausalLM, Qwen2Config

    cfg = dataclasses.replace(QWEN25_7B_INSTRUCT, num_layers=2, hidden_size=64, num_heads=4,
                              num_kv_heads=2, head_dim=16, intermediate_size=32, vocab_size=50)
    hf_config = Qwen2Config(vocab_size=50, hidden_size=64, intermediate_size=32,
                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            tie_word_embeddings=False)
    with torch.device("meta"):
        hf = AutoModelForCausalLM.from_config(hf_config)
    expected = {k: tuple(t.shape) for k, t in hf.state_dict().items()}
    assert dict(checkpoint_shapes(cfg)) == expected


def test_dummy_weights_shard_the_same_full_tensors(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = dataclasses.replace(QWEN25_7B_INSTRUCT, num_layers=1, hidden_size=32, num_heads=4,
                              num_kv_heads=2, head_dim=8, intermediate_size=16, vocab_size=37)
    cpu = torch.device("cpu")
    whole = build_model(cfg, dtype=torch.float32, device=cpu)
    load_weights(whole, dummy_weights(cfg, dtype=torch.float32, device=cpu))  # type: ignore[arg-type]
    full = dict(whole.named_parameters())
    for r in range(2):
        with as_rank(monkeypatch, r, 2):
            part = build_model(cfg, dtype=torch.float32, device=cpu)
        load_weights(part, dummy_weights(cfg, dtype=torch.float32, device=cpu))  # type: ignore[arg-type]
        p = dict(part.named_parameters())
        down = "model.layers.0.mlp.down_proj.weight"
        torch.testing.assert_close(p[down], full[down][:, 8 * r : 8 * r + 8])
        q = "model.layers.0.self_attn.qkv_proj.weight"
        torch.testing.assert_close(p[q][:16], full[q][16 * r : 16 * r + 16])  # 2 query heads
        rows = min(19, 37 - 19 * r)  # ceil(37 / 2) = 19 rows per rank, the last one padded
        head = p["lm_head.weight"]
        torch.testing.assert_close(head[:rows], full["lm_head.weight"][19 * r : 19 * r + rows])
        assert not head[rows:].any()
