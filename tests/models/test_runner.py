"""ModelRunner.execute: one entry per chunk, greedy and seeded sampling, scoring chunks,
per-sequence state."""

from __future__ import annotations

import torch
from model_harness import Harness, TinyCheckpoint, random_tokens

from hireserve.scheduler.output import ScheduledChunk
from hireserve.scheduler.sequence import StopCriteria
from hireserve.server.engine.sampling_params import SamplingParams, ScoringParams


def test_execute_samples_only_sampling_chunks_and_greedy_is_argmax(
    tiny_qwen2: TinyCheckpoint,
) -> None:
    h = Harness(tiny_qwen2.path)
    a = h.sequence(random_tokens(9, seed=1))
    b = h.sequence(random_tokens(12, seed=2), sampling_params=SamplingParams(temperature=0.0))
    chunks = [h.chunk(a, 0, 9), h.chunk(b, 0, 6, sample=False)]
    out = h.runner.execute(h.output(*chunks)).sampled
    assert out[1] is None
    expected = int(tiny_qwen2.hf_logits(a.token_ids)[-1].argmax())
    assert out[0] == expected
    assert h.runner.execute(h.output()).sampled == []


def test_seeded_rows_repeat_whatever_the_batch(tiny_llama: TinyCheckpoint) -> None:
    h = Harness(tiny_llama.path)
    prompt = random_tokens(8, seed=3)
    params = SamplingParams(temperature=1.0, seed=1234)
    seeded = [h.sequence(prompt, sampling_params=params) for _ in range(2)]
    other = h.sequence(prompt, sampling_params=SamplingParams(temperature=1.0))
    streams: list[list[int]] = [[], [], []]
    seqs = [*seeded, other]
    out = h.runner.execute(h.output(*(h.chunk(s, 0, 8) for s in seqs))).sampled
    for _ in range(6):
        for s, tok, stream in zip(seqs, out, streams, strict=True):
            assert tok is not None
            stream.append(tok)
            s.token_ids.append(tok)
        out = h.runner.execute(
            h.output(*(h.chunk(s, s.num_tokens - 1, 1) for s in seqs))).sampled
    assert streams[0] == streams[1]  # same seed, same prompt: same tokens
    # Alone, with a fresh runner, the seeded stream is the same again.
    alone = Harness(tiny_llama.path, seed=5)
    s = alone.sequence(prompt, sampling_params=params)
    got = []
    token = alone.runner.execute(alone.output(alone.chunk(s, 0, 8))).sampled[0]
    for _ in range(6):
        assert token is not None
        got.append(token)
        s.token_ids.append(token)
        token = alone.runner.execute(
            alone.output(alone.chunk(s, s.num_tokens - 1, 1))).sampled[0]
    assert got == streams[0]


def test_a_seeded_token_depends_on_the_seed_and_its_output_index_only(
    tiny_llama: TinyCheckpoint,
) -> None:
    """No generator state carries from one token to the next: a sequence that arrives with
    three output tokens already (recomputed after a preemption, or forced by its grammar
    without a draw) samples its fourth as the sequence that drew all four."""
    prompt = random_tokens(8, seed=3)
    params = SamplingParams(temperature=1.0, seed=77)
    h = Harness(tiny_llama.path)
    s = h.sequence(prompt, sampling_params=params)
    token = h.runner.execute(h.output(h.chunk(s, 0, 8))).sampled[0]
    stream = []
    for _ in range(5):
        assert token is not None
        stream.append(token)
        s.token_ids.append(token)
        token = h.runner.execute(h.output(h.chunk(s, s.num_tokens - 1, 1))).sampled[0]
    fresh = Harness(tiny_llama.path, seed=9)
    r = fresh.sequence(prompt, sampling_params=params)
    r.token_ids += stream[:3]  # output tokens it did not draw: index 3 comes next
    assert fresh.runner.execute(fresh.output(fresh.chunk(r, 0, 11))).sampled == [stream[3]]
    other = fresh.sequence(prompt, sampling_params=SamplingParams(temperature=1.0, seed=78))
    draws = [fresh.runner.execute(fresh.output(fresh.chunk(other, 0, 8))).sampled[0]
             for _ in range(4)]
    assert len(set(draws)) == 1, "the same (seed, index) gives the same token every time"


def test_logits_are_fp32_for_bf16_models(tiny_qwen2: TinyCheckpoint) -> None:
    h = Harness(tiny_qwen2.path, dtype=torch.bfloat16)
    assert h.runner.kv_cache.k[0].dtype == torch.bfloat16
    seq = h.sequence(random_tokens(5, seed=4))
    logits = h.logits(h.chunk(seq, 0, 5))
    assert logits.dtype == torch.float32 and logits.shape == (1, 512)


def test_scoring_chunks_give_candidate_logprobs_beside_sampling_ones(
    tiny_qwen2: TinyCheckpoint,
) -> None:
    h = Harness(tiny_qwen2.path)
    candidates = (3, 77, 511)
    gen = h.sequence(random_tokens(7, seed=5), sampling_params=SamplingParams(temperature=0.0))
    q1 = h.sequence(random_tokens(10, seed=6), stop=StopCriteria(max_tokens=0),
                    sampling_params=ScoringParams(candidates))
    q2 = h.sequence(random_tokens(13, seed=7), stop=StopCriteria(max_tokens=0),
                    sampling_params=ScoringParams((511, 0)))
    h.grow(q2, 13)
    chunks = [h.chunk(gen, 0, 7), ScheduledChunk(q1, 0, 10, sample=False, score=True),
              h.chunk(q2, 0, 5, sample=False)]
    h.grow(q1, 10)
    out = h.runner.execute(h.output(*chunks))
    assert out.sampled[1:] == [None, None] and out.sampled[0] is not None
    assert list(out.scores) == [q1.seq_id]  # q2's chunk stops short of its end
    reference = tiny_qwen2.hf_logits(q1.token_ids)[-1].log_softmax(dim=-1)
    assert list(out.scores[q1.seq_id]) == list(candidates)
    for tok, lp in out.scores[q1.seq_id].items():
        assert abs(lp - reference[tok].item()) < 1e-4
    out = h.runner.execute(h.output(ScheduledChunk(q2, 5, 8, sample=False, score=True)))
    reference = tiny_qwen2.hf_logits(q2.token_ids)[-1].log_softmax(dim=-1)
    assert out.sampled == [None] and list(out.scores[q2.seq_id]) == [511, 0]
    for tok, lp in out.scores[q2.seq_id].items():
        assert abs(lp - reference[tok].item()) < 1e-4
