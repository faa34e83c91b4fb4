"""The errors the engine's callers handle: admission errors (the scheduler refuses a request
at submit: too long for the context or the KV pool, queue full) and `EngineDeadError`."""

from __future__ import annotations

from hireserve.scheduler.errors import AdmissionError, PromptTooLongError, QueueFullError

__all__ = ["AdmissionError", "EngineDeadError", "PromptTooLongError", "QueueFullError"]


class EngineDeadError(RuntimeError):
    """The engine loop failed; requests in flight cannot finish."""
