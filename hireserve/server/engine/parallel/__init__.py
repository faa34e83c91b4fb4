"""Tensor parallelism across processes: rank 0 (scheduler, sampler, gRPC) and N-1 workers.

See docs/tensor-parallel.md. `WorkerPool.start(args)` must run before the model is built
(the layers read the TP size when constructed); `TPModelRunner` replaces `ModelRunner` on
rank 0.
"""

from hireserve.server.engine.parallel.workers import (
    TensorParallelError,
    WorkerDiedError,
    WorkerPool,
)

__all__ = ["TensorParallelError", "WorkerDiedError", "WorkerPool"]
