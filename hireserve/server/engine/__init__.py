"""The engine: `LLM` (offline), `AsyncEngine` (the server's), `SamplingParams`, `ScoringParams`,
and what the service layer may see of it (outputs, `EngineInfo`, errors)."""

from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.errors import (
    AdmissionError,
    EngineDeadError,
    PromptTooLongError,
    QueueFullError,
)
from hireserve.server.engine.info import EngineInfo
from hireserve.server.engine.outputs import RequestOutput, ScoreOutput
from hireserve.server.engine.sampling_params import SamplingParams, ScoringParams

__all__ = ["LLM", "AdmissionError", "AsyncEngine", "EngineArgs", "EngineDeadError", "EngineInfo",
           "PromptTooLongError", "QueueFullError", "RequestOutput", "SamplingParams",
           "ScoreOutput", "ScoringParams"]


def __getattr__(name: str) -> object:  # lazy: importing SamplingParams must not load torch models
    if name == "LLM":
        from hireserve.server.engine.llm import LLM

        return LLM
    if name == "AsyncEngine":
        from hireserve.server.engine.async_engine import AsyncEngine

        return AsyncEngine
    raise AttributeError(name)
