"""Property tests: random interleavings of add / step / abort / fast-forward (grammar-forced
tokens appended without K/V; tiny pools force preemption), with generated and prefill-only
(scoring) sequences, keep the block accounting exact, the K/V each chunk reads correct, and the
limits of every step; once drained, every admitted sequence finished exactly once."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sched_helpers import KVChecker

from hireserve.scheduler.block_manager import chained_hash
from hireserve.scheduler.config import SchedulerConfig
from hireserve.scheduler.cost_model import StepCostModel
from hireserve.scheduler.errors import PromptTooLongError, QueueFullError
from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import (
    ChunkKind,
    FinishReason,
    Sequence,
    SequenceStatus,
    StopCriteria,
)

MAX_MODEL_LEN = 40
EOS = 3
tokens = st.lists(st.integers(1, 4), min_size=0, max_size=12)  # tiny alphabet: lots of sharing


class SchedulerMachine(RuleBasedStateMachine):
    @initialize(
        block_size=st.sampled_from([1, 2, 4]),
        num_blocks=st.integers(6, 30),
        max_num_seqs=st.integers(1, 4),
        budget=st.integers(4, 24),
        threshold=st.integers(2, 16),
        chunked=st.booleans(),
        mix=st.booleans(),
        caching=st.booleans(),
        priority=st.booleans(),
        itl=st.sampled_from([None, 0.002, 0.02]),
        watermark=st.sampled_from([0.0, 0.2]),
        prefixes=st.lists(tokens, min_size=1, max_size=3),
    )
    def setup(
        self,
        block_size: int,
        num_blocks: int,
        max_num_seqs: int,
        budget: int,
        threshold: int,
        chunked: bool,
        mix: bool,
        caching: bool,
        priority: bool,
        itl: float | None,
        watermark: float,
        prefixes: list[list[int]],
    ) -> None:
        self.cfg = SchedulerConfig(
            num_blocks=num_blocks,
            block_size=block_size,
            max_num_batched_tokens=budget if chunked else MAX_MODEL_LEN,
            max_num_seqs=max_num_seqs,
            max_model_len=MAX_MODEL_LEN,
            long_prefill_token_threshold=threshold,
            max_waiting=6,
            policy="priority" if priority else "fcfs",
            enable_prefix_caching=caching,
            enable_chunked_prefill=chunked,
            itl_target_s=itl,
            mix_prefill_decode=mix,
            admission_watermark=watermark,
        )
        self.s = Scheduler(self.cfg, cost_model=StepCostModel(prior=(1e-3, 1e-4, 1e-6, 0.0)))
        self.kv = KVChecker(self.s)
        self.prefixes = prefixes
        self.admitted: list[Sequence] = []
        self.ends: Counter[int] = Counter()

    # ---- rules -------------------------------------------------------------------------
    @rule(
        which=st.integers(0, 2),
        suffix=tokens,
        max_tokens=st.integers(0, 8),  # 0: a scoring request (prefill only)
        prio=st.integers(0, 2),
        ignore_eos=st.booleans(),
    )
    def add(
        self, which: int, suffix: list[int], max_tokens: int, prio: int, ignore_eos: bool
    ) -> None:
        prompt = self.prefixes[which % len(self.prefixes)] + suffix or [1]
        stop = StopCriteria(
            max_tokens=max_tokens, eos_token_ids=frozenset({EOS}), ignore_eos=ignore_eos
        )
        seq = Sequence(prompt, stop=stop, priority=prio)
        if max_tokens == 0:  # its prompt, every token with K/V, and nothing more
            fits = len(prompt) <= min(MAX_MODEL_LEN, self.cfg.kv_capacity_tokens)
        else:
            longest = min(len(prompt) + max_tokens, MAX_MODEL_LEN)
            fits = len(prompt) < MAX_MODEL_LEN and longest - 1 <= self.cfg.kv_capacity_tokens
        try:
            self.s.add(seq)
        except PromptTooLongError as e:
            assert not fits and e.num_tokens == len(prompt)
            return
        except QueueFullError:
            assert self.s.num_waiting >= self.cfg.max_waiting  # preempted ones come on top
            return
        assert fits
        self.admitted.append(seq)

    def _run(self, sampled_tok: int, abort_index: int | None = None) -> None:
        kinds_before = {q.seq_id: q.next_chunk_kind for q in self.s.running}
        decoding = {i for i, k in kinds_before.items() if k is not ChunkKind.PREFILL}
        out = self.s.schedule(0.0)
        assert out.num_batched_tokens <= self.cfg.max_num_batched_tokens
        assert len({c.seq.seq_id for c in out.chunks}) == len(out.chunks)
        order = [ChunkKind.DECODE, ChunkKind.FORCED_RUN, ChunkKind.PREFILL]
        ranks = [order.index(c.kind) for c in out.chunks]
        assert ranks == sorted(ranks), "decodes first, then forced runs, then prefills"
        for c in out.chunks:  # the kind is the sequence's own, whoever scheduled it
            assert c.kind is kinds_before.get(c.seq.seq_id, ChunkKind.PREFILL)
            assert c.kind is not ChunkKind.DECODE or c.num_tokens == 1
        if not self.cfg.mix_prefill_decode:  # a step of prefills, or a step of decodes
            from_decoding = [c.seq.seq_id in decoding for c in out.chunks]
            assert all(from_decoding) or not any(from_decoding)
        for c in out.chunks:
            if c.num_tokens > 1 or c.start < c.seq.num_prompt_tokens:
                assert c.seq.status is SequenceStatus.RUNNING
        self.kv.run(out)
        if abort_index is not None and out.chunks:
            victim = out.chunks[abort_index % len(out.chunks)].seq
            assert self.s.abort(victim.seq_id, "cancelled") is victim
            self.ends[victim.seq_id] += 1
        sampled: list[int | None] = [sampled_tok if c.sample else None for c in out.chunks]
        for u in self.s.update(out, sampled):
            if u.seq.prefill_only:  # scored: finished, nothing appended, blocks freed
                assert u.new_token_ids == [] and u.finish_reason is FinishReason.SCORED
                assert u.seq.num_tokens == u.seq.num_prompt_tokens and u.seq.block_table == []
            else:
                assert u.new_token_ids == [sampled_tok]
            if u.finished:
                self.ends[u.seq.seq_id] += 1

    @rule(tok=st.integers(1, 5))
    def step(self, tok: int) -> None:
        self._run(tok)

    @rule(tok=st.integers(1, 5), index=st.integers(0, 10))
    def step_with_abort_in_flight(self, tok: int, index: int) -> None:
        self._run(tok, abort_index=index)

    @rule(index=st.integers(0, 50), forced=st.lists(st.integers(1, 5), min_size=1, max_size=4))
    def fast_forward(self, index: int, forced: list[int]) -> None:
        live = [q for q in self.s.running if q.is_generating]
        if not live:
            return
        q = live[index % len(live)]
        before = q.num_tokens
        appended, reason = self.s.append_forced(q, forced)  # an EOS (3) ends it, as sampled
        assert q.num_tokens == before + appended
        if reason is None:
            assert appended == len(forced)
        else:
            assert q.is_finished and q.block_table == [] and appended <= len(forced)
            self.ends[q.seq_id] += 1

    @rule(index=st.integers(0, 50))
    def abort(self, index: int) -> None:
        live = [q for q in self.admitted if not q.is_finished]
        if live:
            q = live[index % len(live)]
            assert self.s.abort(q.seq_id, "deadline") is q
            self.ends[q.seq_id] += 1

    # ---- invariants --------------------------------------------------------------------
    @invariant()
    def blocks_are_accounted_exactly(self) -> None:
        if not hasattr(self, "s"):
            return
        bm = self.s.block_manager
        holders: Counter[int] = Counter()
        for q in self.s.running:
            holders.update(q.block_table)
        for q in self.admitted:
            if q.status is not SequenceStatus.RUNNING:
                assert q.block_table == []
        free = set(bm.free_block_ids())
        assert len(free) == len(bm.free_block_ids())
        for b in bm.blocks:
            assert b.ref_count == holders[b.block_id]
            assert (b.ref_count == 0) == (b.block_id in free)
            if b.cached:
                assert b.token_ids is not None and len(b.token_ids) == bm.block_size
                assert chained_hash(b.parent_hash, b.token_ids) == b.hash
                assert bm._cached[b.hash] is b
        assert all(b.cached for b in bm._cached.values())
        assert all(b.ref_count > 0 and not b.cached for b in bm._pending.values())

    @invariant()
    def limits_hold(self) -> None:
        if not hasattr(self, "s"):
            return
        assert self.s.num_running <= self.cfg.max_num_seqs
        if self.cfg.enable_chunked_prefill:
            th = self.cfg.long_prefill_token_threshold
            long_ones = [q for q in self.s.running
                         if q.num_tokens - q.num_computed_tokens > th and not q.is_generating]
            assert len(long_ones) <= 1

    def teardown(self) -> None:
        if not hasattr(self, "s"):
            return
        for _ in range(3000):
            if not self.s.has_unfinished():
                break
            self._run(1)  # token 1 is never EOS: sequences run to their length
            self.blocks_are_accounted_exactly()
            self.limits_hold()
        assert not self.s.has_unfinished(), "the scheduler did not drain"
        for q in self.admitted:
            assert q.is_finished and self.ends[q.seq_id] == 1, q
        assert self.s.block_manager.num_free_blocks == self.cfg.num_blocks
        assert self.s.num_running == 0 and self.s.num_waiting == 0


TestSchedulerMachine = SchedulerMachine.TestCase
TestSchedulerMachine.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
