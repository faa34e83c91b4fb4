"""The engine: `LLM` (offline), `AsyncEngine` (the server's), `SamplingParams`."""

from server.engine.args import EngineArgs
from server.engine.sampling_params import SamplingParams

__all__ = ["LLM", "AsyncEngine", "EngineArgs", "SamplingParams"]


def __getattr__(name: str) -> object:  # lazy: importing SamplingParams must not load torch models
    if name == "LLM":
        from server.engine.llm import LLM

        return LLM
    if name == "AsyncEngine":
        from server.engine.async_engine import AsyncEngine

        return AsyncEngine
    raise AttributeError(name)
