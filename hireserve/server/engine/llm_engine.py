"""The synchronous engine core: model, runner, scheduler and tokenizer, driven one step at a time.

`step()` reads in a few lines: expire deadlines, schedule, execute, update, then fast-forward
(append the tokens a JSON grammar forces, computed by the next step). Exactly one thread
calls into an `LLMEngine` (the AsyncEngine's engine thread, or the caller of the offline `LLM`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from hireserve.scheduler.config import SchedulerConfig
from hireserve.scheduler.output import SequenceUpdate
from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import Sequence, StopCriteria
from hireserve.server.engine.args import EngineArgs, parse_bytes
from hireserve.server.engine.detokenizer import IncrementalDetokenizer
from hireserve.server.engine.kv_cache import bytes_per_token
from hireserve.server.engine.outputs import (
    RequestMetrics,
    RequestOutput,
    StepStats,
    TokenLogprobs,
)
from hireserve.server.engine.parallel import WorkerPool
from hireserve.server.engine.parallel.executor import TPModelRunner
from hireserve.server.engine.runner import ModelRunner
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.engine.structured import GrammarCompilerCache, StructuredOutputManager
from hireserve.server.engine.tokenizer import Tokenizer
from hireserve.server.models.loader import load_model
from hireserve.server.models.source import SourceKind, resolve_model

log = logging.getLogger(__name__)

CPU_DEFAULT_KV_BYTES = 2 * 2**30  # no device memory to measure on CPU: a fixed, documented pool


@dataclass
class _Request:
    request_id: str
    seq: Sequence
    detok: IncrementalDetokenizer
    metrics: RequestMetrics


class LLMEngine:
    def __init__(self, args: EngineArgs) -> None:
        self.args = args
        self.device = args.resolved_device()
        self.dtype = args.resolved_dtype()
        args.apply_cpu_threads()
        torch.manual_seed(args.seed)
        self.source = resolve_model(args.model)
        self.block_size = args.resolved_block_size()
        # Tensor parallelism: workers start and the group forms before the model is built,
        # because each layer cuts its shard by the TP rank it reads at construction.
        self.tp_workers = WorkerPool.start(args) if args.tensor_parallel_size > 1 else None
        self.model, self.model_config = load_model(
            self.source,
            dtype=self.dtype,
            device=self.device,
            load_format=args.load_format,
            rope_scaling=args.rope_scaling,
            quantization=args.resolved_quantization(self.source.kind is SourceKind.GGUF),
        )
        self.tokenizer = Tokenizer.from_source(self.source)
        self.max_model_len = args.max_model_len or self.model_config.max_model_len
        num_blocks = self._num_kv_blocks()
        if self.tp_workers is None:
            self.runner = ModelRunner(
                self.model, self.model_config, device=self.device, dtype=self.dtype,
                block_size=self.block_size, num_blocks=num_blocks,
                attention_backend=args.attention_backend,
            )
        else:  # rank 0 of N: the same runner, and every step is sent to the workers too
            self.runner = TPModelRunner(
                self.tp_workers, self.model, self.model_config, device=self.device,
                dtype=self.dtype, block_size=self.block_size, num_blocks=num_blocks,
                attention_backend=args.attention_backend,
            )
        budget = args.max_num_batched_tokens
        if not args.enable_chunked_prefill:
            budget = max(budget, self.max_model_len)  # a whole prompt must fit one step
        self.scheduler = Scheduler(
            SchedulerConfig(
                block_size=self.block_size,
                num_blocks=num_blocks,
                max_num_batched_tokens=budget,
                max_num_seqs=args.max_num_seqs,
                max_model_len=self.max_model_len,
                long_prefill_token_threshold=args.long_prefill_token_threshold or budget,
                max_waiting=args.max_waiting,
                policy=args.scheduling_policy,
                enable_prefix_caching=args.enable_prefix_caching,
                enable_chunked_prefill=args.enable_chunked_prefill,
                itl_target_s=None if args.itl_target_ms is None else args.itl_target_ms / 1e3,
            )
        )
        self.eos_token_ids = frozenset(self.tokenizer.eos_token_ids)
        self.runner.structured = StructuredOutputManager(
            lambda: GrammarCompilerCache(
                self.tokenizer.hf, self.model_config.vocab_size, sorted(self.eos_token_ids)
            )
        )
        self._requests: dict[str, _Request] = {}
        self._by_seq: dict[int, _Request] = {}
        self.last_step_empty = False
        self.last_step_stats: StepStats | None = None
        log.info(
            "engine ready: model=%s dtype=%s device=%s kv_blocks=%d block_size=%d max_model_len=%d",
            self.source.name, self.dtype, self.device, num_blocks, self.block_size,
            self.max_model_len,
        )

    # -- sizing ------------------------------------------------------------------------------

    def _num_kv_blocks(self) -> int:
        args = self.args
        if args.num_kv_blocks is not None:
            return args.num_kv_blocks
        per_block = bytes_per_token(self.model_config, self.dtype) * self.block_size
        if args.kv_cache_memory is not None:
            budget = parse_bytes(args.kv_cache_memory)
        elif self.device.type == "cuda":
            free, total = torch.cuda.mem_get_info(self.device)
            used_elsewhere = total - free
            budget = int(total * args.gpu_memory_utilization) - used_elsewhere
        else:
            budget = CPU_DEFAULT_KV_BYTES
        blocks = budget // per_block
        if blocks < 1:
            raise ValueError(f"the KV cache budget ({budget} bytes) holds no block of {per_block}")
        return int(blocks)

    # -- requests ----------------------------------------------------------------------------

    def add_request(
        self,
        request_id: str,
        prompt_token_ids: list[int],
        params: SamplingParams,
        *,
        priority: int = 0,
        deadline: float | None = None,
        arrival_time: float | None = None,
    ) -> Sequence:
        """Queues a request; raises the scheduler's admission errors (too long, queue full)."""
        if request_id in self._requests:
            raise ValueError(f"duplicate request id {request_id!r}")
        arrival = time.monotonic() if arrival_time is None else arrival_time
        stop = StopCriteria(
            max_tokens=params.max_tokens,
            stop_token_ids=frozenset(params.stop_token_ids),
            eos_token_ids=self.eos_token_ids,
            # A grammar that has terminated allows only EOS: ignoring it would leave a
            # constrained sequence nothing it may sample. Constrained output ends with its JSON.
            ignore_eos=params.ignore_eos and params.json_schema is None,
            min_tokens=params.min_tokens,
        )
        seq = Sequence(
            list(prompt_token_ids),
            stop=stop,
            sampling_params=params,
            arrival_time=arrival,
            priority=priority,
            deadline=deadline,
        )
        self.scheduler.add(seq)
        req = _Request(
            request_id,
            seq,
            IncrementalDetokenizer(self.tokenizer, prompt_token_ids),
            RequestMetrics(arrival_time=arrival),
        )
        self._requests[request_id] = req
        self._by_seq[seq.seq_id] = req
        return seq

    def abort_request(self, request_id: str, reason: str = "cancelled") -> RequestOutput | None:
        req = self._requests.get(request_id)
        if req is None:
            return None
        self.scheduler.abort(req.seq.seq_id, reason)
        return self._finish_aborted(req)

    def has_unfinished(self) -> bool:
        return self.scheduler.has_unfinished()

    @property
    def num_requests(self) -> int:
        return len(self._requests)

    # -- the step ----------------------------------------------------------------------------

    def step(self) -> list[RequestOutput]:
        now = time.monotonic()
        outputs = [self._finish_aborted(self._by_seq[s.seq_id])
                   for s in self.scheduler.abort_expired(now)]
        scheduled = self.scheduler.schedule(now)
        self.last_step_empty = scheduled.is_empty
        if scheduled.is_empty:
            return outputs
        started = time.perf_counter()
        sampled = self.runner.execute(scheduled)
        step_time = time.perf_counter() - started
        updates = self.scheduler.update(scheduled, sampled, step_time)
        logprobs = {seq_id: [lp] for seq_id, lp in self.runner.last_logprobs.items()}
        forced = 0
        if self.args.enable_fast_forward:
            updates, forced = self._fast_forward(updates, logprobs)
        self.last_step_stats = StepStats(step_time, scheduled.num_batched_tokens, forced)
        updates = self._isolate_failures(updates, outputs)
        outputs.extend(self._deliver_safely(u, logprobs.get(u.seq.seq_id))
                       for u in updates if u.new_token_ids or u.finished)
        return outputs

    def _fast_forward(
        self, updates: list[SequenceUpdate], logprobs: dict[int, list[TokenLogprobs]]
    ) -> tuple[list[SequenceUpdate], int]:
        """After each sampled token, append the tokens its grammar forces (exactly one
        allowed) without sampling them: the next step computes them in one chunk with the next
        sampled token. Exact: sampling under a one-token mask can only give that token.
        Stops, max_tokens and the context end a forced run as they end a sampled one."""
        structured = self.runner.structured
        if structured is None:
            return updates, 0
        result: list[SequenceUpdate] = []
        total = 0
        for update in updates:
            seq = update.seq
            forced: list[int] = []
            reason = update.finish_reason
            while reason is None:
                token = structured.forced_token(seq)
                if token is None:
                    break
                structured.accept([seq], [token])
                reason = self.scheduler.append_forced(seq, token)
                forced.append(token)
            if forced:
                total += len(forced)
                self.runner.skip_samples(seq.seq_id, len(forced))  # seeded: same draws after
                if seq.seq_id in logprobs:  # certain: the whole mass on one token
                    logprobs[seq.seq_id].extend({t: 0.0} for t in forced)
                update = SequenceUpdate(
                    seq, update.new_token_ids + forced, reason is not None, reason
                )
            result.append(update)
        return result, total

    def _deliver(
        self, update: SequenceUpdate, logprobs: list[TokenLogprobs] | None = None
    ) -> RequestOutput:
        req = self._by_seq[update.seq.seq_id]
        now = time.monotonic()
        m = req.metrics
        m.first_scheduled_time = req.seq.first_scheduled_time  # the scheduler's clock
        if update.new_token_ids:
            if m.first_token_time is None:
                m.first_token_time = now
            elif m.last_token_time is not None:
                m.inter_token_latencies.append(now - m.last_token_time)
            m.last_token_time = now
        text = req.detok.push(update.new_token_ids)
        if update.finished:
            text += req.detok.flush()
            m.finished_time = now
            self._forget(req)
        reason = update.finish_reason.value if update.finish_reason else None
        return RequestOutput(
            request_id=req.request_id,
            new_token_ids=list(update.new_token_ids),
            new_text=text,
            finished=update.finished,
            finish_reason=reason,
            num_prompt_tokens=req.seq.num_prompt_tokens,
            num_cached_tokens=req.seq.num_cached_tokens,
            num_output_tokens=req.seq.num_output_tokens,
            abort_reason=req.seq.abort_reason,
            metrics=m,
            new_logprobs=logprobs,
        )

    # -- per-sequence failures: one sequence's error never fails the batch --------------------

    def _isolate_failures(self, updates: list[SequenceUpdate],
                          outputs: list[RequestOutput]) -> list[SequenceUpdate]:
        """Finishes the sequences whose grammar failed this step (their output goes to
        `outputs` as an abort with the error as reason) and returns the other updates."""
        structured = self.runner.structured
        errors = structured.take_errors() if structured is not None else {}
        if not errors:
            return updates
        for seq_id, reason in errors.items():
            req = self._by_seq.get(seq_id)
            if req is not None:
                outputs.append(self._fail_request(req, reason))
        return [u for u in updates if u.seq.seq_id not in errors]

    def _deliver_safely(self, update: SequenceUpdate,
                        logprobs: list[TokenLogprobs] | None = None) -> RequestOutput:
        try:
            return self._deliver(update, logprobs)
        except Exception:  # e.g. the detokenizer: this request's problem, not the engine's
            log.exception("delivering output failed for sequence %d", update.seq.seq_id)
            req = self._by_seq.get(update.seq.seq_id)
            if req is None:
                raise  # nothing left to finish: a bug in the bookkeeping, fail loudly
            return self._fail_request(req, "output_error")

    def _fail_request(self, req: _Request, reason: str) -> RequestOutput:
        """Aborts one request for an error of its own and frees its blocks."""
        if self.scheduler.abort(req.seq.seq_id, reason) is None:
            req.seq.abort_reason = reason  # it had just finished: still report the error
        return self._finish_aborted(req)

    def _finish_aborted(self, req: _Request) -> RequestOutput:
        req.metrics.first_scheduled_time = req.seq.first_scheduled_time
        req.metrics.finished_time = time.monotonic()
        self._forget(req)
        return RequestOutput(
            request_id=req.request_id,
            new_token_ids=[],
            new_text="",
            finished=True,
            finish_reason="abort",
            num_prompt_tokens=req.seq.num_prompt_tokens,
            num_cached_tokens=req.seq.num_cached_tokens,
            num_output_tokens=req.seq.num_output_tokens,
            abort_reason=req.seq.abort_reason,
            metrics=req.metrics,
        )

    def shutdown(self) -> None:
        """Stops the tensor-parallel workers and leaves the process group (no-op at TP 1).
        Idempotent; the engine cannot step afterwards."""
        if self.tp_workers is not None:
            self.tp_workers.shutdown()

    def _forget(self, req: _Request) -> None:
        self._requests.pop(req.request_id, None)
        self._by_seq.pop(req.seq.seq_id, None)
        self.runner.release([req.seq.seq_id])
