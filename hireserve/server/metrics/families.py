"""Every metric hireserve exports: names, help texts, label names and histogram buckets.

Conventions (Prometheus): prefix `hireserve_`, base units (seconds, ratios in 0..1), counters end
in `_total`, and no label ever carries a request id, a candidate or any text from a request, so
the number of series stays bounded. docs/metrics.md lists the same metrics for operators.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# fmt: off
# RPC calls range from a GetModelInfo (milliseconds) to a ScreenBatch of a thousand resumes
# (many minutes): the buckets reach half an hour.
RPC_DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
    300.0, 600.0, 1200.0, 1800.0,
)
# Queueing and time to first token: a 128K-token resume prefilled in chunks behind others can
# take minutes on a busy server, a cached short prompt milliseconds.
LATENCY_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 320.0, 640.0,
)
# A whole request (prefill and a few hundred tokens of JSON) or its decode phase.
REQUEST_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0,
)
# Inter-token latency: tens of milliseconds on a GPU; a prefill chunk mixed into a step can
# stretch one token's wait to seconds.
ITL_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2,
    0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)
STEP_DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
    0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
)
STEP_TOKEN_BUCKETS = tuple(float(2**i) for i in range(18))  # 1 .. 131072 tokens
# fmt: on

# Label values that are allowed through; anything else is counted as "other" so a caller can
# never grow the number of series without bound.
ABORT_REASONS = ("cancelled", "deadline", "shutdown", "error", "invalid_schema",
                 "grammar_error", "output_error")
FINISH_REASONS = ("stop", "length", "scored", "abort")
DOCUMENT_FORMATS = ("pdf", "docx", "text", "markdown", "unknown")
DOCUMENT_OUTCOMES = ("ok", "rejected", "error")
AUTH_FAILURE_REASONS = ("missing", "wrong")
OTHER = "other"


def bounded(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else OTHER


@dataclass(frozen=True)
class Families:
    # RPC layer
    rpc_requests: Counter
    rpc_duration: Histogram
    rpc_in_flight: Gauge
    auth_failures: Counter
    # engine, per request
    queue_time: Histogram
    time_to_first_token: Histogram
    inter_token_latency: Histogram
    e2e_latency: Histogram
    prefill_time: Histogram
    decode_time: Histogram
    prompt_tokens: Counter
    cached_prompt_tokens: Counter
    generation_tokens: Counter
    requests_finished: Counter
    requests_aborted: Counter
    structured_output_failures: Counter
    # engine, scheduler state
    requests_running: Gauge
    requests_waiting: Gauge
    kv_cache_usage: Gauge
    prefix_cache_queries: Counter
    prefix_cache_hits: Counter
    preemptions: Counter
    forced_tokens: Counter
    step_duration: Histogram
    step_tokens: Histogram
    # product
    documents_parsed: Counter
    build_info: Gauge

    @staticmethod
    def create(registry: CollectorRegistry) -> Families:
        r = registry
        f = Families(
            rpc_requests=Counter(
                "hireserve_rpc_requests_total",
                "RPCs handled, by gRPC service, method and status code.",
                ["service", "method", "code"],
                registry=r,
            ),
            rpc_duration=Histogram(
                "hireserve_rpc_request_duration_seconds",
                "Wall time of an RPC from arrival to its last response message.",
                ["service", "method"],
                buckets=RPC_DURATION_BUCKETS,
                registry=r,
            ),
            rpc_in_flight=Gauge(
                "hireserve_rpc_requests_in_flight", "RPCs being handled right now.", registry=r
            ),
            auth_failures=Counter(
                "hireserve_auth_failures_total",
                "Calls refused UNAUTHENTICATED, by reason: no bearer token, or a wrong one.",
                ["reason"],
                registry=r,
            ),
            queue_time=Histogram(
                "hireserve_request_queue_time_seconds",
                "Time a request waited from arrival until it was first scheduled.",
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            time_to_first_token=Histogram(
                "hireserve_time_to_first_token_seconds",
                "Time from a request's arrival to its first generated token.",
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            inter_token_latency=Histogram(
                "hireserve_inter_token_latency_seconds",
                "Time between two consecutive generated tokens of one request.",
                buckets=ITL_BUCKETS,
                registry=r,
            ),
            e2e_latency=Histogram(
                "hireserve_e2e_request_latency_seconds",
                "Time from arrival to the last token of requests that finished (stop or length).",
                buckets=REQUEST_BUCKETS,
                registry=r,
            ),
            prefill_time=Histogram(
                "hireserve_request_prefill_time_seconds",
                "Time from a request's first scheduling to its first token (prompt prefill).",
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            decode_time=Histogram(
                "hireserve_request_decode_time_seconds",
                "Time from the first to the last token of requests that finished.",
                buckets=REQUEST_BUCKETS,
                registry=r,
            ),
            prompt_tokens=Counter(
                "hireserve_prompt_tokens_total",
                "Prompt tokens of requests whose prefill completed (counted at the first token).",
                registry=r,
            ),
            cached_prompt_tokens=Counter(
                "hireserve_cached_prompt_tokens_total",
                "Prompt tokens served from the prefix cache instead of computed "
                "(a subset of hireserve_prompt_tokens_total).",
                registry=r,
            ),
            generation_tokens=Counter(
                "hireserve_generation_tokens_total", "Tokens generated.", registry=r
            ),
            requests_finished=Counter(
                "hireserve_requests_finished_total",
                "Requests that left the engine, by finish reason (stop, length, scored, abort).",
                ["finish_reason"],
                registry=r,
            ),
            requests_aborted=Counter(
                "hireserve_requests_aborted_total",
                "Requests aborted before they finished, by reason "
                "(cancelled, deadline, shutdown, error, invalid_schema, grammar_error, "
                "output_error, other).",
                ["reason"],
                registry=r,
            ),
            structured_output_failures=Counter(
                "hireserve_structured_output_failures_total",
                "Constrained outputs that did not parse into the typed answer (should stay 0).",
                registry=r,
            ),
            requests_running=Gauge(
                "hireserve_requests_running", "Requests in the running batch.", registry=r
            ),
            requests_waiting=Gauge(
                "hireserve_requests_waiting", "Requests waiting to be scheduled.", registry=r
            ),
            kv_cache_usage=Gauge(
                "hireserve_kv_cache_usage_ratio",
                "Fraction of KV cache blocks in use (0 to 1).",
                registry=r,
            ),
            prefix_cache_queries=Counter(
                "hireserve_prefix_cache_query_tokens_total",
                "Prompt tokens looked up in the prefix cache. "
                "Hit ratio = rate(hits) / rate(queries).",
                registry=r,
            ),
            prefix_cache_hits=Counter(
                "hireserve_prefix_cache_hit_tokens_total",
                "Prompt tokens found in the prefix cache.",
                registry=r,
            ),
            preemptions=Counter(
                "hireserve_preemptions_total",
                "Running requests preempted (KV blocks freed, recomputed later).",
                registry=r,
            ),
            forced_tokens=Counter(
                "hireserve_forced_tokens_total",
                "Output tokens a JSON grammar forced, appended without sampling (fast-forward).",
                registry=r,
            ),
            step_duration=Histogram(
                "hireserve_engine_step_duration_seconds",
                "Wall time of one engine step that ran the model.",
                buckets=STEP_DURATION_BUCKETS,
                registry=r,
            ),
            step_tokens=Histogram(
                "hireserve_engine_step_tokens",
                "Tokens computed by one engine step (decodes plus prefill chunks).",
                buckets=STEP_TOKEN_BUCKETS,
                registry=r,
            ),
            documents_parsed=Counter(
                "hireserve_documents_parsed_total",
                "Documents read, by format and outcome (ok, rejected, error).",
                ["format", "outcome"],
                registry=r,
            ),
            build_info=Gauge(
                "hireserve_build_info",
                "Always 1; the labels describe the running build and model.",
                ["version", "model", "dtype", "attention_backend", "tensor_parallel_size"],
                registry=r,
            ),
        )
        # Known label values start at 0, so rate() and absence alerts work from the first scrape.
        for reason in FINISH_REASONS:
            f.requests_finished.labels(reason)
        for reason in (*ABORT_REASONS, OTHER):
            f.requests_aborted.labels(reason)
        for reason in AUTH_FAILURE_REASONS:
            f.auth_failures.labels(reason)
        return f
