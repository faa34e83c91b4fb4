"""The engine: `LLM` (offline), `AsyncEngine` (the server's), `SamplingParams`, `ScoringParams`."""

from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.outputs import RequestOutput, ScoreOutput
from hireserve.server.engine.sampling_params import SamplingParams, ScoringParams

__all__ = ["LLM", "AsyncEngine", "EngineArgs", "RequestOutput", "SamplingParams", "ScoreOutput",
           "ScoringParams"]


def __getattr__(name: str) -> object:  # lazy: importing SamplingParams must not load torch models
    if name == "LLM":
        from hireserve.server.engine.llm import LLM

        return LLM
    if name == "AsyncEngine":
        from hireserve.server.engine.async_engine import AsyncEngine

        return AsyncEngine
    raise AttributeError(name)
