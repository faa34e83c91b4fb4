"""Rank 0's ModelRunner under tensor parallelism.

It is the ordinary ModelRunner (rank 0 builds the step tensors, samples, runs the grammar
masks) with one addition: every prepared step is sent to the workers before rank 0's own
forward, so all ranks enter the same collectives in the same order. Errors from a collective
are turned into `WorkerDiedError` when a worker is gone.
"""

from __future__ import annotations

from typing import Any

import torch

from hireserve.scheduler.output import SchedulerOutput
from hireserve.server.distributed import broadcast_from_first
from hireserve.server.engine.parallel.protocol import StepTensors, pack_step
from hireserve.server.engine.parallel.workers import TensorParallelError, WorkerPool
from hireserve.server.engine.runner import ModelRunner, StepInputs
from hireserve.server.engine.step import RunnerOutput
from hireserve.server.models.config import ModelConfig
from hireserve.server.models.qwen2 import Qwen2ForCausalLM


class TPModelRunner(ModelRunner):
    def __init__(self, pool: WorkerPool, model: Qwen2ForCausalLM, model_config: ModelConfig,
                 **runner_args: Any) -> None:
        super().__init__(model, model_config, **runner_args)
        self.pool = pool
        pool.setup(self.kv_cache.num_blocks)

    @property
    def tensor_parallel_size(self) -> int:
        return self.pool.world_size

    def prepare(self, output: SchedulerOutput) -> StepInputs:
        """Builds the step tensors and hands them to the workers (each prepare is followed by
        exactly one forward, on every rank)."""
        inputs = super().prepare(output)
        header, payload = pack_step(
            StepTensors(inputs.input_ids, inputs.positions, inputs.meta, inputs.logits_rows)
        )
        self.pool.send(header)
        broadcast_from_first(payload)
        return inputs

    @torch.inference_mode()
    def execute(self, output: SchedulerOutput) -> RunnerOutput:
        self.pool.check_alive()
        try:
            return super().execute(output)
        except TensorParallelError:
            raise
        except Exception as exc:  # a failed collective: find out whether a worker died
            self.pool.raise_if_dead(exc)
            raise

    @torch.inference_mode()
    def execute_logits(self, output: SchedulerOutput) -> torch.Tensor:
        self.pool.check_alive()
        try:
            return super().execute_logits(output)
        except TensorParallelError:
            raise
        except Exception as exc:
            self.pool.raise_if_dead(exc)
            raise

    def shutdown(self) -> None:
        self.pool.shutdown()
