"""Protobuf <-> engine conversions shared by the servicers."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from hireserve.server.engine.outputs import RequestOutput
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.errors import invalid_argument
from hireserve.v1 import common_pb2

FINISH_REASONS = {
    "stop": common_pb2.FINISH_REASON_EOS,
    "length": common_pb2.FINISH_REASON_LENGTH,
    "abort": common_pb2.FINISH_REASON_ABORTED,
    None: common_pb2.FINISH_REASON_UNSPECIFIED,
}

_FIELDS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed")


def usage_of(out: RequestOutput) -> common_pb2.Usage:
    """Token accounting of a finished request (from its last output)."""
    return common_pb2.Usage(prompt_tokens=out.num_prompt_tokens,
                            cached_prompt_tokens=out.num_cached_tokens,
                            generated_tokens=out.num_output_tokens)


def sampling_from_proto(
    msg: common_pb2.SamplingParams, *, field: str, default: SamplingParams, **fixed: Any
) -> SamplingParams:
    """The default, overridden by the fields the caller set, then by `fixed` (server-owned:
    max_tokens, json_schema...). A bad value is INVALID_ARGUMENT naming the field."""
    overrides: dict[str, Any] = {name: getattr(msg, name) for name in _FIELDS
                                 if msg.HasField(name)}
    for name, value in overrides.items():
        if isinstance(value, float) and not math.isfinite(value):  # NaN slips past "< 0"
            raise invalid_argument(f"{field}.{name}", f"{name} must be a finite number")
    try:
        return dataclasses.replace(default, **overrides, **fixed)
    except ValueError as exc:
        bad = next((n for n in overrides if n in str(exc)), None)
        raise invalid_argument(f"{field}.{bad}" if bad else field, str(exc)) from exc
