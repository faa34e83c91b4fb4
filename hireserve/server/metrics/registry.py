"""`Metrics`: hireserve's Prometheus metrics on a registry of their own, and the /metrics server.

Each `Metrics` owns a `CollectorRegistry`, so tests and several servers in one process never
collide on metric names. The hooks it offers match the places that produce the numbers:

    state.observers.append(metrics.observe_rpc)        # each RPC: (method, code, seconds)
    metrics.track_in_flight(state)                     # reads state.in_flight at scrape time
    AsyncEngine(..., on_step=metrics.on_step)          # engine thread, each StepResult
    metrics.record_document(fmt, "ok")                 # after reading a document
    metrics.record_structured_output_failure()         # constrained JSON that did not parse
    metrics.set_build_info_from(engine.info)           # once, at startup (EngineInfo)
    port = metrics.start_http_server(host, 9400)       # GET /metrics (port 0: any free port)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import start_http_server as _start_http_server

import hireserve
from hireserve.server.engine.info import EngineInfo
from hireserve.server.engine.step import StepResult
from hireserve.server.metrics.engine import EngineObserver
from hireserve.server.metrics.families import (
    AUTH_FAILURE_REASONS,
    DOCUMENT_FORMATS,
    DOCUMENT_OUTCOMES,
    Families,
    bounded,
)

UNKNOWN_SERVICE = "unknown"


def split_method(full: str) -> tuple[str | None, str]:
    """'/pkg.Service/Method' or 'Service/Method' -> (service, method); 'Method' -> (None, ...)."""
    service, _, method = full.strip("/").rpartition("/")
    return (service or None), method


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, *, services: Iterable[Any] = (),
        process_metrics: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.families = Families.create(self.registry)
        if process_metrics and self.registry is not REGISTRY:  # (the global one has them)
            # process_cpu_seconds_total, process_resident_memory_bytes,
            # process_open_fds, python_gc_*, python_info: what an SRE's dashboards expect
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        self._engine = EngineObserver(self.families)
        self._service_of: dict[str, str] = {}  # bare method name -> full service name
        self._http: tuple[WSGIServer, threading.Thread] | None = None
        for service in services:
            self.register_service(service)

    # -- RPC ---------------------------------------------------------------------------------

    def register_service(self, service: Any, methods: Iterable[str] | None = None) -> None:
        """Teach the RPC metrics which service a bare method name belongs to (the RPC layer
        reports `fn.__name__`, e.g. "Screen"). `service` is a protobuf ServiceDescriptor, or a
        full service name with `methods`. Its methods' series start at 0."""
        if methods is None:
            name, methods = service.full_name, [m.name for m in service.methods]
        else:
            name = str(service)
        for method in methods:
            self._service_of[method] = name
            self.families.rpc_requests.labels(name, method, "OK")
            self.families.rpc_duration.labels(name, method)

    def observe_rpc(self, method: str, code: str, seconds: float) -> None:
        """An `Observer` for ServiceState.observers. `method` is 'Method', 'Service/Method' or
        '/pkg.Service/Method'; `code` a grpc.StatusCode name such as "OK"."""
        service, name = split_method(method)
        if service is None:
            service = self._service_of.get(name, UNKNOWN_SERVICE)
        self.families.rpc_requests.labels(service, name, code).inc()
        self.families.rpc_duration.labels(service, name).observe(seconds)

    def record_auth_failure(self, reason: str) -> None:
        """`reason`: missing (no bearer token) or wrong; never the token itself."""
        self.families.auth_failures.labels(bounded(reason, AUTH_FAILURE_REASONS)).inc()

    def track_in_flight(self, source: Callable[[], float] | Any) -> None:
        """The in-flight gauge reads `source()` (or `source.in_flight`, e.g. a ServiceState) at
        each scrape, so it can never drift from the RPC layer's own count."""
        if callable(source):
            self.families.rpc_in_flight.set_function(source)
        else:
            self.families.rpc_in_flight.set_function(lambda: source.in_flight)

    # -- engine ------------------------------------------------------------------------------

    def on_step(self, result: StepResult) -> None:
        """After each engine step (or abort between steps): scheduler gauges and counter
        deltas, per-request metrics of its outputs, the step's duration and tokens."""
        self._engine.on_step(result)

    def record_structured_output_failure(self) -> None:
        self.families.structured_output_failures.inc()

    # -- product -----------------------------------------------------------------------------

    def record_document(self, format: str, outcome: str) -> None:
        """`format`: pdf, docx, text, markdown, unknown; `outcome`: ok, rejected (a
        DocumentError: the caller's document), error (our bug). Others count as "other"."""
        self.families.documents_parsed.labels(
            bounded(format, DOCUMENT_FORMATS), bounded(outcome, DOCUMENT_OUTCOMES)
        ).inc()

    def set_build_info(
        self,
        *,
        version: str,
        model: str,
        dtype: str,
        attention_backend: str,
        tensor_parallel_size: int,
    ) -> None:
        info = self.families.build_info
        info.clear()  # one series: a second call replaces the first
        dtype = str(dtype).removeprefix("torch.")
        info.labels(version, model, dtype, attention_backend, str(tensor_parallel_size)).set(1)

    def set_build_info_from(self, info: EngineInfo, version: str | None = None) -> None:
        """From the engine's EngineInfo: model, dtype, resolved attention backend, TP size."""
        self.set_build_info(
            version=version or hireserve.__version__,
            model=info.model,
            dtype=info.dtype,
            attention_backend=info.attention_backend,
            tensor_parallel_size=info.tensor_parallel_size,
        )

    # -- exposition --------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The Prometheus text format (0.0.4) of every metric, as GET /metrics serves it."""
        return generate_latest(self.registry)

    def start_http_server(self, host: str = "0.0.0.0", port: int = 9400) -> int:
        """Serves the metrics over HTTP from a daemon thread; returns the bound port."""
        if self._http is not None:
            raise RuntimeError("the metrics server is already running")
        httpd, thread = _start_http_server(port, addr=host, registry=self.registry)
        self._http = (httpd, thread)
        return int(httpd.server_port)

    def close(self) -> None:
        """Stops the HTTP server, if any (the metrics stay readable through exposition())."""
        if self._http is None:
            return
        httpd, thread = self._http
        self._http = None
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
