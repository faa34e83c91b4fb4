"""Continuous batching: which tokens of which sequences the next step computes.

Each step has a token budget. Running sequences get their decode token first; the rest goes
to prefills: partial prefills continue first, then waiting requests are admitted in policy
order while budget, sequence slots and blocks remain. A long prompt is prefilled in chunks,
at most one at a time, so decodes keep flowing. When a running sequence cannot get a block,
the newest running sequence is preempted (its blocks freed, recomputed later).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from hireserve.scheduler.block_manager import Block, BlockManager
from hireserve.scheduler.config import SchedulerConfig
from hireserve.scheduler.cost_model import StepCostModel, StepShape
from hireserve.scheduler.errors import PromptTooLongError, QueueFullError
from hireserve.scheduler.output import SchedulerOutput, SequenceUpdate
from hireserve.scheduler.plan import StepPlan
from hireserve.scheduler.sequence import ChunkKind, FinishReason, Sequence, SequenceStatus
from hireserve.scheduler.stats import SchedulerStats
from hireserve.scheduler.stopping import stop_reason
from hireserve.scheduler.waiting_queue import WaitingQueue


class Scheduler:
    def __init__(
        self,
        config: SchedulerConfig,
        cost_model: StepCostModel | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.block_manager = BlockManager(
            config.num_blocks, config.block_size, config.enable_prefix_caching
        )
        self.cost_model = cost_model if cost_model is not None else StepCostModel()
        self.waiting = WaitingQueue(config.policy)
        self.running: list[Sequence] = []  # admission order: the last is the newest
        self._seqs: dict[int, Sequence] = {}  # every unfinished sequence
        self._long: Sequence | None = None  # the long prompt whose prefill is in flight
        self._deadlines: list[tuple[float, int]] = []  # heap of (deadline, seq_id)
        self._clock = clock
        self.num_preemptions = 0
        self.num_forced_tokens = 0  # appended by append_forced (grammar fast-forward)

    # ---- metrics -----------------------------------------------------------------------
    @property
    def num_running(self) -> int:
        return len(self.running)

    @property
    def num_waiting(self) -> int:
        return len(self.waiting)

    @property
    def kv_usage(self) -> float:
        return self.block_manager.usage

    @property
    def prefix_cache_query_tokens(self) -> int:
        return self.block_manager.query_tokens

    @property
    def prefix_cache_hit_tokens(self) -> int:
        return self.block_manager.hit_tokens

    def stats(self) -> SchedulerStats:
        """The state after the last step and the cumulative counters, as one value."""
        return SchedulerStats(
            num_running=len(self.running),
            num_waiting=len(self.waiting),
            kv_usage=self.block_manager.usage,
            num_preemptions=self.num_preemptions,
            num_forced_tokens=self.num_forced_tokens,
            prefix_cache_query_tokens=self.block_manager.query_tokens,
            prefix_cache_hit_tokens=self.block_manager.hit_tokens,
        )

    def has_unfinished(self) -> bool:
        return bool(self._seqs)

    def get(self, seq_id: int) -> Sequence | None:
        return self._seqs.get(seq_id)

    # ---- admission ---------------------------------------------------------------------
    def add(self, seq: Sequence) -> None:
        """Queue `seq`, or raise PromptTooLongError / QueueFullError (nothing allocated)."""
        cfg = self.config
        if seq.status is not SequenceStatus.WAITING or seq.block_table:
            raise ValueError(f"{seq!r} is not a new sequence")
        if seq.seq_id in self._seqs:
            raise ValueError(f"sequence id {seq.seq_id} is already scheduled")
        n = seq.num_tokens
        # A generated sequence needs room for at least one output token; a scoring one
        # (prefill only) for its prompt alone.
        longest = cfg.max_model_len if seq.prefill_only else cfg.max_model_len - 1
        if n > longest:
            raise PromptTooLongError(n, longest, "max_model_len")
        # Alone in the pool, a sequence must be able to reach its longest length, else it
        # would preempt itself forever. The last sampled token needs no KV slot; every prompt
        # token does.
        slots = n if seq.prefill_only else min(n + seq.stop.max_tokens, cfg.max_model_len) - 1
        capacity = cfg.kv_capacity_tokens
        if slots > capacity:
            raise PromptTooLongError(n, capacity - (slots - n), "kv_pool")
        if len(self.waiting) >= cfg.max_waiting:
            raise QueueFullError(len(self.waiting), cfg.max_waiting)
        self._seqs[seq.seq_id] = seq
        self.waiting.push(seq)
        if seq.deadline is not None:
            heapq.heappush(self._deadlines, (seq.deadline, seq.seq_id))

    # ---- one step ----------------------------------------------------------------------
    def schedule(self, now: float | None = None) -> SchedulerOutput:
        now = self._clock() if now is None else now
        plan = StepPlan(self.config.max_num_batched_tokens)
        if self.config.mix_prefill_decode:
            self._schedule_decodes(plan)
            self._schedule_prefills(plan, now)
        else:  # nano-vllm: a step of prefills if there is any, else a step of decodes
            self._schedule_prefills(plan, now)
            if not plan.prefills:
                self._schedule_decodes(plan)
        return plan.output()

    def _schedule_decodes(self, plan: StepPlan) -> None:
        for seq in list(self.running):
            if plan.budget < 1:
                break
            if seq.status is not SequenceStatus.RUNNING:
                continue
            kind = seq.next_chunk_kind
            if kind is ChunkKind.PREFILL:
                continue
            # One token; more for a forced run. A run longer than what is left of the budget
            # runs in pieces (only the piece that reaches the end samples).
            n = min(seq.num_tokens - seq.num_computed_tokens, plan.budget)
            if self._reserve(seq, n, plan):
                plan.add(seq, n, kind)

    def _schedule_prefills(self, plan: StepPlan, now: float) -> None:
        # With an ITL target, a long prompt's chunk is the costliest per token (it attends to
        # up to 128K cached tokens): short prompts get the step's latency budget first and the
        # long one takes what is left, at least one block, so it still progresses every step.
        defer_long = self.config.itl_target_s is not None and bool(plan.decodes)
        for seq in list(self.running):  # partial prefills continue first
            if defer_long and seq is self._long:
                continue
            self._continue_prefill(seq, plan, guarantee=False)
        if not plan.preempted:  # blocks are short: admit nobody new this step (as vLLM does)
            self._admit_waiting(plan, now)
        if defer_long and self._long is not None and self._long in self.running:
            self._continue_prefill(self._long, plan, guarantee=True)

    def _continue_prefill(self, seq: Sequence, plan: StepPlan, guarantee: bool) -> None:
        if (plan.budget < 1 or seq.status is not SequenceStatus.RUNNING
                or seq.next_chunk_kind is not ChunkKind.PREFILL):
            return
        if seq.seq_id in plan.decodes or seq.seq_id in plan.prefills:
            return
        remaining = seq.num_tokens - seq.num_computed_tokens
        start = seq.num_computed_tokens
        n = self._chunk_size(start, remaining, seq is self._long, plan, guarantee)
        if n > 0 and self._reserve(seq, n, plan):
            plan.add(seq, n, ChunkKind.PREFILL)

    def _admit_waiting(self, plan: StepPlan, now: float) -> None:
        cfg = self.config
        bm = self.block_manager
        for seq in self.waiting:
            if len(self.running) >= cfg.max_num_seqs or plan.budget < 1:
                break
            hits, wait = bm.match_prefix(seq)
            if wait:
                continue  # its next blocks are being computed by another prompt right now
            num_cached = len(hits) * cfg.block_size
            remaining = seq.num_tokens - num_cached
            is_long = cfg.enable_chunked_prefill and remaining > cfg.long_prefill_token_threshold
            if is_long and self._long is not None:
                continue  # one long prompt at a time; shorter ones may pass
            n = self._chunk_size(num_cached, remaining, is_long, plan, guarantee=False)
            if n == 0:
                break
            need = -(-(num_cached + n) // cfg.block_size) - len(hits)
            reserve = cfg.watermark_blocks if self.running else 0
            if not bm.can_allocate(need, hits, reserve):
                break
            self._admit(seq, hits, num_cached, n, is_long, plan, now)

    def _admit(
        self,
        seq: Sequence,
        hits: list[Block],
        num_cached: int,
        num_new: int,
        is_long: bool,
        plan: StepPlan,
        now: float,
    ) -> None:
        bm = self.block_manager
        self.waiting.remove(seq)
        bm.allocate_hits(seq, hits)
        bm.count_query(seq.num_tokens, num_cached)
        seq.num_computed_tokens = num_cached
        if seq.first_scheduled_time is None:
            seq.first_scheduled_time = now
            seq.num_cached_tokens = num_cached
        bm.allocate_slots(seq, num_cached + num_new)
        seq.status = SequenceStatus.RUNNING
        self.running.append(seq)
        if is_long:
            self._long = seq
        plan.add(seq, num_new, ChunkKind.PREFILL)

    def _chunk_size(
        self, start: int, remaining: int, is_long: bool, plan: StepPlan, guarantee: bool
    ) -> int:
        """Prefill tokens for a sequence with `start` tokens cached and `remaining` to go;
        `guarantee`: at least one block even if the ITL target is already spent."""
        cfg = self.config
        n = min(remaining, plan.budget)
        if is_long:
            n = min(n, cfg.long_prefill_token_threshold)
        if cfg.itl_target_s is not None and plan.decodes and n > 0:
            # Decodes are streaming: keep the predicted step time under the ITL target, but
            # let the first prefill chunk of the step have one block so prefill progresses.
            fit = self.cost_model.max_chunk(plan.shape, start, n, cfg.itl_target_s)
            if guarantee or not plan.prefills:
                fit = max(fit, min(n, cfg.block_size))
            n = fit
        if not cfg.enable_chunked_prefill and n < remaining:
            return 0  # all or nothing
        return n

    def _reserve(self, seq: Sequence, num_tokens: int, plan: StepPlan) -> bool:
        """Give a running `seq` slots for `num_tokens` more tokens, preempting the newest
        running sequences while blocks are short. False if `seq` itself was preempted."""
        bm = self.block_manager
        after = seq.num_computed_tokens + num_tokens
        while bm.blocks_needed(seq, after) > bm.num_free_blocks:
            victim = self.running[-1]
            self._preempt(victim, plan)
            if victim is seq:
                return False
        bm.allocate_slots(seq, after)
        return True

    def _preempt(self, seq: Sequence, plan: StepPlan) -> None:
        self.running.remove(seq)
        plan.unschedule(seq)
        self.block_manager.free(seq)
        if self._long is seq:
            self._long = None
        seq.num_computed_tokens = 0
        seq.is_generating = False  # recomputed as a prefill until it samples again
        seq.status = SequenceStatus.WAITING
        seq.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.push_front(seq)
        plan.preempted.append(seq)

    # ---- after the step ----------------------------------------------------------------
    def update(
        self,
        output: SchedulerOutput,
        sampled: list[int | None],
        step_time_s: float | None = None,
    ) -> list[SequenceUpdate]:
        """Apply a step's results. `sampled[i]` is the token sampled for `output.chunks[i]`
        (None for chunks that do not sample). Returns one update per sampled token, and one
        (finished, no token) per prefill-only sequence whose prompt is now computed."""
        if len(sampled) != len(output.chunks):
            raise ValueError(f"{len(sampled)} sampled tokens for {len(output.chunks)} chunks")
        for chunk, tok in zip(output.chunks, sampled, strict=True):
            if chunk.sample and tok is None:
                raise ValueError(f"chunk of {chunk.seq!r} samples but got no token")
        if step_time_s is not None and output.chunks:
            shape = StepShape.of_chunks((c.start, c.num_tokens) for c in output.chunks)
            self.cost_model.observe(shape, step_time_s)
        updates: list[SequenceUpdate] = []
        for chunk, tok in zip(output.chunks, sampled, strict=True):
            seq = chunk.seq
            if seq.status is not SequenceStatus.RUNNING or seq.num_computed_tokens != chunk.start:
                continue  # aborted or preempted since it was scheduled: drop the result
            seq.num_computed_tokens += chunk.num_tokens
            self.block_manager.commit(seq)
            if chunk.score:  # its full prompt blocks stay cached for the next question
                self._finish(seq, FinishReason.SCORED)
                updates.append(SequenceUpdate(seq, [], True, FinishReason.SCORED))
                continue
            if not chunk.sample:
                continue
            assert tok is not None
            if self._long is seq:
                self._long = None
            seq.token_ids.append(tok)
            seq.is_generating = True
            reason = stop_reason(seq, tok, self.config.max_model_len)
            if reason is not None:
                self._finish(seq, reason)
            updates.append(SequenceUpdate(seq, [tok], reason is not None, reason))
        return updates

    def append_forced(self, seq: Sequence, run: list[int]) -> tuple[int, FinishReason | None]:
        """Append a run of tokens decided without sampling (each the only one its grammar
        allowed) to a running sequence that just sampled. They have no K/V yet: the sequence's
        next chunk (a FORCED_RUN) computes them with the sampled one. Each stops the sequence
        as a sampled token would, and the rest of the run is dropped. -> (tokens appended,
        why the sequence finished or None)."""
        if seq.status is not SequenceStatus.RUNNING or not seq.is_generating:
            raise ValueError(f"{seq!r} is not decoding: nothing can be forced")
        reason: FinishReason | None = None
        appended = 0
        for tok in run:
            seq.token_ids.append(tok)
            appended += 1
            reason = stop_reason(seq, tok, self.config.max_model_len)
            if reason is not None:
                break
        self.num_forced_tokens += appended
        if reason is not None:
            self._finish(seq, reason)
        return appended, reason

    def _finish(self, seq: Sequence, reason: FinishReason, abort_reason: str | None = None) -> None:
        if seq.status is SequenceStatus.RUNNING:
            self.running.remove(seq)
            self.block_manager.free(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        if self._long is seq:
            self._long = None
        seq.status = SequenceStatus.FINISHED
        seq.finish_reason = reason
        seq.abort_reason = abort_reason
        del self._seqs[seq.seq_id]

    # ---- cancellation ------------------------------------------------------------------
    def abort(self, seq_id: int, reason: str = "cancelled") -> Sequence | None:
        """End a sequence in any state and free its blocks now. None if it is not here
        (unknown or already finished)."""
        seq = self._seqs.get(seq_id)
        if seq is None:
            return None
        self._finish(seq, FinishReason.ABORT, reason)
        return seq

    def abort_expired(self, now: float | None = None) -> list[Sequence]:
        """Abort every sequence whose deadline is <= now (reason "deadline")."""
        now = self._clock() if now is None else now
        aborted: list[Sequence] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, seq_id = heapq.heappop(self._deadlines)
            seq = self._seqs.get(seq_id)
            if seq is not None and seq.deadline == deadline:
                self._finish(seq, FinishReason.ABORT, "deadline")
                aborted.append(seq)
        return aborted
