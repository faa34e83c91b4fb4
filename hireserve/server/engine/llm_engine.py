"""The synchronous engine core: model, runner, scheduler and tokenizer, driven one step at a time.

`step()` reads in a few lines: expire deadlines, schedule, execute, update, then fast-forward
(append the tokens a JSON grammar forces, computed by the next step), and returns everything
as one `StepResult`. A request is generated (SamplingParams: a stream of RequestOutputs) or
scored (ScoringParams: prefill only, one ScoreOutput). Exactly one thread calls into an
`LLMEngine` (the AsyncEngine's engine thread, or the caller of the offline `LLM`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import torch

from hireserve.scheduler.config import SchedulerConfig
from hireserve.scheduler.output import SequenceUpdate
from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import FinishReason, Sequence, StopCriteria
from hireserve.server.engine.args import EngineArgs, parse_bytes
from hireserve.server.engine.detokenizer import IncrementalDetokenizer
from hireserve.server.engine.fast_forward import fast_forward
from hireserve.server.engine.info import EngineInfo, weights_fingerprint
from hireserve.server.engine.kv_cache import bytes_per_token
from hireserve.server.engine.outputs import (
    EngineOutput,
    RequestMetrics,
    RequestOutput,
    ScoreOutput,
    TokenLogprobs,
)
from hireserve.server.engine.parallel import WorkerPool
from hireserve.server.engine.parallel.executor import TPModelRunner
from hireserve.server.engine.runner import ModelRunner
from hireserve.server.engine.sampling_params import SamplingParams, ScoringParams
from hireserve.server.engine.step import RunnerOutput, StepResult, StepStats
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
    detok: IncrementalDetokenizer | None  # None for a scoring request: no text
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
        self.eos_token_ids = frozenset(self.tokenizer.eos_token_ids)
        self.max_model_len = args.max_model_len or self.model_config.max_model_len
        self.structured = StructuredOutputManager(  # xgrammar loads on the first schema
            lambda: GrammarCompilerCache(
                self.tokenizer.hf, self.model_config.vocab_size, sorted(self.eos_token_ids)
            )
        )
        num_blocks = self._num_kv_blocks()
        runner_args: dict[str, Any] = dict(
            device=self.device, dtype=self.dtype, block_size=self.block_size,
            num_blocks=num_blocks, attention_backend=args.attention_backend,
            structured=self.structured,
        )
        if self.tp_workers is None:
            self.runner = ModelRunner(self.model, self.model_config, **runner_args)
        else:  # rank 0 of N: the same runner, and every step is sent to the workers too
            self.runner = TPModelRunner(self.tp_workers, self.model, self.model_config,
                                        **runner_args)
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
        self._requests: dict[str, _Request] = {}
        self._by_seq: dict[int, _Request] = {}
        self.info = EngineInfo(
            model=self.source.name,
            context_length=self.max_model_len,
            dtype=str(self.dtype).removeprefix("torch."),
            tensor_parallel_size=args.tensor_parallel_size,
            attention_backend=self.runner.attention_backend_name,
            weights_fingerprint=weights_fingerprint(self.model),
            vocab_size=self.model_config.vocab_size,
        )
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
        params: SamplingParams | ScoringParams,
        *,
        priority: int = 0,
        deadline: float | None = None,
        arrival_time: float | None = None,
    ) -> Sequence:
        """Queues a request; raises the scheduler's admission errors (too long, queue full),
        and ValueError for a candidate token outside the vocabulary."""
        if request_id in self._requests:
            raise ValueError(f"duplicate request id {request_id!r}")
        arrival = time.monotonic() if arrival_time is None else arrival_time
        if isinstance(params, ScoringParams):
            vocab = self.model_config.vocab_size
            if max(params.candidate_token_ids) >= vocab:
                raise ValueError(f"candidate_token_ids: ids must be < the vocabulary size {vocab}")
            stop = StopCriteria(max_tokens=0)  # prefill only
        else:
            stop = StopCriteria(
                max_tokens=params.max_tokens,
                stop_token_ids=frozenset(params.stop_token_ids),
                eos_token_ids=self.eos_token_ids,
                # A grammar that has terminated allows only EOS: ignoring it would leave a
                # constrained sequence nothing it may sample. Constrained output ends with its
                # JSON.
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
        detok = (None if seq.prefill_only
                 else IncrementalDetokenizer(self.tokenizer, prompt_token_ids))
        req = _Request(request_id, seq, detok, RequestMetrics(arrival_time=arrival))
        self._requests[request_id] = req
        self._by_seq[seq.seq_id] = req
        return seq

    def abort_request(self, request_id: str, reason: str = "cancelled") -> EngineOutput | None:
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

    def step(self) -> StepResult:
        now = time.monotonic()
        outputs: list[EngineOutput] = [self._finish_aborted(self._by_seq[s.seq_id])
                                       for s in self.scheduler.abort_expired(now)]
        scheduled = self.scheduler.schedule(now)
        if scheduled.is_empty:
            return StepResult(outputs, self.scheduler.stats())
        ran = self.runner.execute(scheduled)
        updates = self.scheduler.update(scheduled, ran.sampled, ran.seconds)
        forced = 0
        if self.args.enable_fast_forward:
            updates, forced = fast_forward(updates, self.structured, self.scheduler)
        updates = self._isolate_failures(updates, outputs)
        for u in updates:
            if u.finish_reason is FinishReason.SCORED:
                outputs.append(self._deliver_score(u.seq, ran.scores[u.seq.seq_id],
                                                   ran.attention.get(u.seq.seq_id, ())))
            elif u.new_token_ids or u.finished:
                logprobs = _token_logprobs(u, ran) if ran.logprobs else None
                outputs.append(self._deliver_safely(u, logprobs))
        stats = StepStats(ran.seconds, ran.num_batched_tokens, forced)
        return StepResult(outputs, self.scheduler.stats(), stats)

    def _deliver_score(self, seq: Sequence, logprobs: dict[int, float],
                       attention: tuple[float, ...]) -> ScoreOutput:
        req = self._by_seq[seq.seq_id]
        req.metrics.first_scheduled_time = seq.first_scheduled_time
        req.metrics.finished_time = time.monotonic()
        self._forget(req)
        return ScoreOutput(
            request_id=req.request_id,
            logprobs=logprobs,
            num_prompt_tokens=seq.num_prompt_tokens,
            num_cached_tokens=seq.num_cached_tokens,
            finish_reason="scored",
            metrics=req.metrics,
            attention=attention,
        )

    def _deliver(
        self, update: SequenceUpdate, logprobs: list[TokenLogprobs] | None = None
    ) -> RequestOutput:
        req = self._by_seq[update.seq.seq_id]
        assert req.detok is not None, "a scoring request is delivered by _deliver_score"
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
                          outputs: list[EngineOutput]) -> list[SequenceUpdate]:
        """Finishes the sequences whose grammar failed this step (their output goes to
        `outputs` as an abort with the error as reason) and returns the other updates."""
        errors = self.structured.take_errors()
        if not errors:
            return updates
        for seq_id, reason in errors.items():
            req = self._by_seq.get(seq_id)
            if req is not None:
                outputs.append(self._fail_request(req, reason))
        return [u for u in updates if u.seq.seq_id not in errors]

    def _deliver_safely(self, update: SequenceUpdate,
                        logprobs: list[TokenLogprobs] | None = None) -> EngineOutput:
        try:
            return self._deliver(update, logprobs)
        except Exception:  # e.g. the detokenizer: this request's problem, not the engine's
            log.exception("delivering output failed for sequence %d", update.seq.seq_id)
            req = self._by_seq.get(update.seq.seq_id)
            if req is None:
                raise  # nothing left to finish: a bug in the bookkeeping, fail loudly
            return self._fail_request(req, "output_error")

    def _fail_request(self, req: _Request, reason: str) -> EngineOutput:
        """Aborts one request for an error of its own and frees its blocks."""
        if self.scheduler.abort(req.seq.seq_id, reason) is None:
            req.seq.abort_reason = reason  # it had just finished: still report the error
        return self._finish_aborted(req)

    def _finish_aborted(self, req: _Request) -> EngineOutput:
        req.metrics.first_scheduled_time = req.seq.first_scheduled_time
        req.metrics.finished_time = time.monotonic()
        self._forget(req)
        if req.seq.prefill_only:
            return ScoreOutput(
                request_id=req.request_id,
                logprobs={},
                num_prompt_tokens=req.seq.num_prompt_tokens,
                num_cached_tokens=req.seq.num_cached_tokens,
                finish_reason="abort",
                abort_reason=req.seq.abort_reason,
                metrics=req.metrics,
            )
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
        self.structured.release([req.seq.seq_id])


def _token_logprobs(update: SequenceUpdate, ran: RunnerOutput) -> list[TokenLogprobs] | None:
    """Aligned with the update's tokens: the sampled one's top-k, then {token: 0.0} for each
    token its grammar forced after it. None when the request did not ask for logprobs."""
    sampled = ran.logprobs.get(update.seq.seq_id)
    if sampled is None:
        return None
    return [sampled, *({t: 0.0} for t in update.new_token_ids[1:])]
