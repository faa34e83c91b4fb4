"""ModelRunner: the one place where the scheduler's Python lists become tensors.

One `execute` call runs one step: it flattens the scheduled chunks (decodes first, then forced
runs and prefill chunks) into input ids, positions and cache slots, builds the attention
metadata, runs the model under `forward_context`, computes logits at the last token of the
chunks that sample or score, samples the first (under their grammar's bitmask) and reads the
candidates' log-probabilities of the others. It returns all of it as one `RunnerOutput`.

A seeded request's token at output index i is drawn from a generator seeded with
(seed, i) alone: the same seed gives the same tokens whatever else is batched, after a
preemption, and whether or not the grammar's forced tokens were sampled (fast-forward).
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass

import torch

from hireserve.scheduler.output import SchedulerOutput
from hireserve.scheduler.sequence import ChunkKind, Sequence
from hireserve.server.engine.kv_cache import KVCache
from hireserve.server.engine.outputs import TokenLogprobs
from hireserve.server.engine.sampling_params import SamplingParams, ScoringParams
from hireserve.server.engine.step import RunnerOutput
from hireserve.server.engine.structured import StructuredOutputManager
from hireserve.server.layers.attention.backend import select_backend
from hireserve.server.layers.attention.metadata import AttentionMetadata, forward_context
from hireserve.server.layers.attention.probe import AttentionProbe, probe_layers
from hireserve.server.layers.sampler import Sampler, SamplingTensors, constrained_logprobs
from hireserve.server.models.config import ModelConfig
from hireserve.server.models.qwen2 import Qwen2ForCausalLM

GREEDY = SamplingParams(temperature=0.0)
_U64 = 2**64 - 1


def sample_seed(seed: int, index: int) -> int:
    """The generator seed of output token `index` (0 = the first) of a request seeded with
    `seed`: reproducible per (seed, position), nothing else."""
    key = struct.pack("<QQ", seed & _U64, index)
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


@dataclass
class StepInputs:
    input_ids: torch.Tensor  # [T] int64
    positions: torch.Tensor  # [T] int64
    meta: AttentionMetadata
    logits_rows: torch.Tensor  # [n] int64: the last token of each chunk that samples or scores
    logits_chunks: list[int]  # which chunks those rows belong to


class ModelRunner:
    def __init__(
        self,
        model: Qwen2ForCausalLM,
        model_config: ModelConfig,
        *,
        device: torch.device | str,
        dtype: torch.dtype,
        block_size: int,
        num_blocks: int,
        attention_backend: str = "auto",
        structured: StructuredOutputManager | None = None,
    ) -> None:
        self.model = model
        self.config = model_config
        self.device = torch.device(device)
        self.dtype = dtype
        self.block_size = block_size
        self.backend = select_backend(attention_backend, self.device, block_size)
        self.kv_cache = KVCache.allocate(
            model_config, num_blocks=num_blocks, block_size=block_size, dtype=dtype,
            device=self.device,
        )
        layers = model.attention_layers()
        if len(layers) != model_config.num_layers:
            raise ValueError(f"model has {len(layers)} attention layers, config says "
                             f"{model_config.num_layers}")
        for index, (layer, k, v) in enumerate(
                zip(layers, self.kv_cache.k, self.kv_cache.v, strict=True)):
            layer.bind(k, v, self.backend, index)
        self.probe_layers = probe_layers(len(layers))
        self.sampler = Sampler()
        self.structured = structured  # masks the rows of constrained sequences; None: none are
        self._pin = self.device.type == "cuda"

    @property
    def attention_backend_name(self) -> str:
        """The resolved backend ("torch" or "flash_attn"), whatever was asked for."""
        return self.backend.name

    # -- lists -> tensors --------------------------------------------------------------------

    def _tensor(self, values: list[int], dtype: torch.dtype) -> torch.Tensor:
        t = torch.tensor(values, dtype=dtype, pin_memory=self._pin)
        return t.to(self.device, non_blocking=True)

    def prepare(self, output: SchedulerOutput) -> StepInputs:
        bs = self.block_size
        input_ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        query_lens: list[int] = []
        seq_lens: list[int] = []
        tables: list[list[int]] = []
        logits_rows: list[int] = []
        logits_chunks: list[int] = []
        probe_rows: list[int] = []  # scoring chunks that ask where their answer looks
        probe_batch: list[int] = []
        num_decodes = 0  # the leading DECODE chunks: one query token each, batched attention
        decode = ChunkKind.DECODE
        for i, chunk in enumerate(output.chunks):
            seq, start, end = chunk.seq, chunk.start, chunk.start + chunk.num_tokens
            if chunk.num_tokens < 1 or end > seq.num_tokens:
                raise ValueError(f"chunk [{start}, {end}) out of range for {seq!r}")
            if chunk.kind is decode:
                if num_decodes != i or chunk.num_tokens != 1:
                    raise ValueError("decode chunks come first and compute one token each")
                num_decodes += 1
            needed = -(-end // bs)
            if len(seq.block_table) < needed:
                raise ValueError(f"{seq!r} has {len(seq.block_table)} blocks, needs {needed}")
            table = seq.block_table[:needed]
            input_ids += seq.token_ids[start:end]
            positions += range(start, end)
            slots += [table[p // bs] * bs + p % bs for p in range(start, end)]
            query_lens.append(chunk.num_tokens)
            seq_lens.append(end)
            tables.append(table)
            if chunk.sample or chunk.score:  # computes_logits, without the property call
                logits_rows.append(len(input_ids) - 1)
                logits_chunks.append(i)
                params = seq.sampling_params
                if chunk.score and isinstance(params, ScoringParams) and params.attention_spans:
                    probe_rows.append(len(input_ids) - 1)
                    probe_batch.append(i)
        width = max((len(t) for t in tables), default=0)
        padded = [t + [0] * (width - len(t)) for t in tables]
        cu = [0]
        for n in query_lens:
            cu.append(cu[-1] + n)
        meta = AttentionMetadata(
            slot_mapping=self._tensor(slots, torch.int64),
            query_start_loc=self._tensor(cu, torch.int32),
            seq_lens=self._tensor(seq_lens, torch.int32),
            block_tables=self._tensor([x for row in padded for x in row], torch.int32).view(
                len(padded), width
            ),
            query_lens_cpu=query_lens,
            seq_lens_cpu=seq_lens,
            num_decodes=num_decodes,
            block_size=bs,
            probe=(AttentionProbe(probe_rows, probe_batch, self.probe_layers)
                   if probe_rows else None),
        )
        return StepInputs(
            input_ids=self._tensor(input_ids, torch.int64),
            positions=self._tensor(positions, torch.int64),
            meta=meta,
            logits_rows=self._tensor(logits_rows, torch.int64),
            logits_chunks=logits_chunks,
        )

    def _sampling_tensors(self, seqs: list[Sequence]) -> SamplingTensors:
        params, histories, generators = [], [], []
        for seq in seqs:
            p = seq.sampling_params or GREEDY
            params.append(p)
            histories.append(seq.token_ids)
            gen = None
            if p.seed is not None and p.temperature > 0:
                gen = torch.Generator(device=self.device)
                gen.manual_seed(sample_seed(p.seed, seq.num_output_tokens))
            generators.append(gen)
        return SamplingTensors.from_params(
            params, histories, generators, self.config.vocab_size, self.device
        )

    # -- running -----------------------------------------------------------------------------

    @torch.inference_mode()
    def execute_logits(self, output: SchedulerOutput) -> torch.Tensor:
        """fp32 logits [n, V] of the chunks that sample or score, in chunk order."""
        return self._logits(self.prepare(output))

    def _logits(self, inputs: StepInputs) -> torch.Tensor:
        with forward_context(inputs.meta):
            hidden = self.model(inputs.input_ids, inputs.positions)
        return self.model.compute_logits(hidden[inputs.logits_rows])

    @torch.inference_mode()
    def execute(self, output: SchedulerOutput) -> RunnerOutput:
        """One step: a token for each chunk that samples (under its grammar's bitmask where it
        has a JSON schema), the candidates' log-probabilities for each chunk that scores."""
        if output.is_empty:
            return RunnerOutput(sampled=[])
        started = time.perf_counter()
        inputs = self.prepare(output)
        logits = self._logits(inputs)
        rows = inputs.logits_chunks
        sample_at: list[int] = []  # positions in `rows` of the chunks that sample, and score
        score_at: list[int] = []
        for r, i in enumerate(rows):
            (sample_at if output.chunks[i].sample else score_at).append(r)
        sampled: list[int | None] = [None] * len(output.chunks)
        logprobs: dict[int, TokenLogprobs] = {}
        if sample_at:
            chunks = [rows[r] for r in sample_at]
            rows_logits = logits if len(sample_at) == len(rows) else logits[
                self._tensor(sample_at, torch.int64)]
            tokens, logprobs = self._sample([output.chunks[i].seq for i in chunks], rows_logits)
            for i, token in zip(chunks, tokens, strict=True):
                sampled[i] = token
        scores = (self._scores([output.chunks[rows[r]].seq for r in score_at], logits, score_at)
                  if score_at else {})
        return RunnerOutput(sampled=sampled, logprobs=logprobs, scores=scores,
                            attention=_span_attention(output, inputs.meta.probe),
                            seconds=time.perf_counter() - started,
                            num_batched_tokens=output.num_batched_tokens)

    def _sample(self, seqs: list[Sequence], logits: torch.Tensor
                ) -> tuple[list[int], dict[int, TokenLogprobs]]:
        """One token per row (constrained rows under their grammar's bitmask, which then
        accepts the token), and the top-k logprobs of the rows that ask for them."""
        bitmask = None
        if self.structured is not None:
            bitmask = self.structured.bitmask(seqs)
            if bitmask is not None:
                bitmask = bitmask.to(self.device, non_blocking=True)
        sampled = self.sampler(logits, self._sampling_tensors(seqs), bitmask)
        tokens: list[int] = sampled.tolist()
        logprobs = self._logprobs(seqs, logits, bitmask, sampled, tokens)
        if self.structured is not None:
            self.structured.accept(seqs, tokens)
        return tokens, logprobs

    def _scores(self, seqs: list[Sequence], logits: torch.Tensor, rows: list[int]
                ) -> dict[int, dict[int, float]]:
        """seq_id -> candidate id -> log-probability, for the rows of scoring chunks: the raw
        model's distribution over the whole vocabulary, in fp32."""
        ids = [list(seq.sampling_params.candidate_token_ids) for seq in seqs]
        width = max(len(row) for row in ids)
        padded = [row + row[:1] * (width - len(row)) for row in ids]  # one gather, one copy
        index = self._tensor([t for row in padded for t in row], torch.int64).view(len(ids), width)
        logprobs = logits[self._tensor(rows, torch.int64)].float().log_softmax(dim=-1)
        values = logprobs.gather(1, index).tolist()
        return {seq.seq_id: dict(zip(row, v[:len(row)], strict=True))
                for seq, row, v in zip(seqs, ids, values, strict=True)}

    def _logprobs(
        self, seqs: list[Sequence], logits: torch.Tensor, bitmask: torch.Tensor | None,
        sampled: torch.Tensor, tokens: list[int],
    ) -> dict[int, TokenLogprobs]:
        """Top-k logprobs of the rows that ask for them; rows that do not cost nothing."""
        wanted = [(row, s.sampling_params.logprobs) for row, s in enumerate(seqs)
                  if getattr(s.sampling_params, "logprobs", None) is not None]
        if not wanted:
            return {}
        rows = self._tensor([row for row, _ in wanted], torch.int64)
        k = max(n for _, n in wanted)
        values, ids, chosen = constrained_logprobs(
            logits[rows], None if bitmask is None else bitmask[rows], sampled[rows], k
        )
        values_l, ids_l, chosen_l = values.tolist(), ids.tolist(), chosen.tolist()
        result: dict[int, TokenLogprobs] = {}
        for i, (row, n) in enumerate(wanted):
            # Disallowed tokens (-inf) are left out when the grammar allows fewer than k.
            entry = {t: v for t, v in zip(ids_l[i][:n], values_l[i][:n], strict=True)
                     if v != float("-inf")}
            entry.setdefault(tokens[row], chosen_l[i])
            result[seqs[row].seq_id] = entry
        return result


def _span_attention(output: SchedulerOutput, probe: AttentionProbe | None
                    ) -> dict[int, tuple[float, ...]]:
    """seq_id -> attention per requested span, for the probed scoring chunks of this step."""
    if probe is None:
        return {}
    result = {}
    for p, i in enumerate(probe.batch_index):
        seq = output.chunks[i].seq
        result[seq.seq_id] = probe.span_mass(p, seq.sampling_params.attention_spans)
    return result
