"""The serving process: one grpc.aio server with our services, health, reflection and auth.

Lifecycle: `start()` binds the port and marks every service SERVING. SIGTERM (or `drain()`)
marks them NOT_SERVING, refuses new calls with UNAVAILABLE and a RetryInfo (another replica),
gives calls in flight `grace_period_s` to finish, and stops with exit code 0 as soon as they
have: health Watch streams (a load balancer's, kubelet's) never hold the drain, they are
closed once they were sent NOT_SERVING. If the engine loop dies, calls in flight
fail with INTERNAL, health goes NOT_SERVING, and the process exits non-zero so a supervisor
restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hireserve.server.admission import CallLimiter
from hireserve.server.audit import open_audit_log
from hireserve.server.auth import BearerTokenInterceptor
from hireserve.server.config import ServerConfig
from hireserve.server.credentials import Credentials, load_credentials
from hireserve.server.documents.pool import DocumentPool
from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.memory import MemoryReturner, prefer_mmap_for_large_buffers
from hireserve.server.metrics import Metrics
from hireserve.server.service.decoding import add_service
from hireserve.server.service.generation import GenerationServicer
from hireserve.server.service.rpc import ServiceState
from hireserve.server.service.screening import ScreeningServicer
from hireserve.v1 import generation_pb2, screening_pb2

log = logging.getLogger("hireserve.server")

DRAIN_POLL_S = 0.05  # how often a drain looks whether the calls in flight are done
CUT_FLUSH_S = 1.0  # after the grace period: time for cut calls to unwind before the stop
PROBE_HEADROOM = 64  # grpc's own call cap sits this far above --max-concurrent-rpcs
WATCH_CLOSE_GRACE_S = 0.5  # lets Watch streams flush NOT_SERVING before they are closed

SERVICE_NAMES = (
    screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"].full_name,
    generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name,
)


class HireServer:
    def __init__(self, config: ServerConfig, engine: AsyncEngine,
                 credentials: Credentials | None = None) -> None:
        credentials = credentials or load_credentials(config)
        self.config = config
        self.engine = engine
        self.state = ServiceState()
        self.metrics = Metrics(services=[
            screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"],
            generation_pb2.DESCRIPTOR.services_by_name["GenerationService"],
        ])
        self.state.metrics = self.metrics
        self.state.observers.append(self.metrics.observe_rpc)
        self.state.documents = DocumentPool(
            config.document_limits, workers=config.document_workers,
            max_waiting=config.document_queue, retry_after_s=config.retry_after_s)
        self.state.max_request_bytes_in_flight = config.max_request_bytes_in_flight
        self.state.retry_after_s = config.retry_after_s
        self.state.memory = MemoryReturner()
        self.metrics.track_in_flight(self.state)
        self.metrics.set_build_info_from(engine.info)
        engine.on_step = self.metrics.on_step
        self.metrics_port: int | None = None
        if config.audit_log is not None:
            self.state.audit = open_audit_log(config.audit_log, config.audit_fsync)
            self.state.weights_fingerprint = engine.info.weights_fingerprint
        self.exit_code: int | None = None
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Future[None]] = set()  # keeps shutdown tasks alive
        self.health = health.aio.HealthServicer()
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if credentials.token is not None:
            interceptors.append(BearerTokenInterceptor(credentials.token, self._auth_failed))
        self.limiter = CallLimiter(config.max_concurrent_rpcs, config.retry_after_s,
                                   lambda method: self.metrics.observe_rpc(
                                       method, "RESOURCE_EXHAUSTED", 0.0))
        interceptors.append(self.limiter)
        limit = config.max_message_bytes
        self.server = grpc.aio.server(
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", limit),
                     ("grpc.max_send_message_length", limit)],
            # grpc's own cap, for every method: above ours, so probes get through an overload.
            maximum_concurrent_rpcs=config.max_concurrent_rpcs + PROBE_HEADROOM,
        )
        model_name = engine.info.model
        self.screening = ScreeningServicer(engine, self.state, config, model_name=model_name)
        self.generation = GenerationServicer(
            engine, self.state, model_name=model_name, retry_after_s=config.retry_after_s,
            default_max_tokens=config.default_max_tokens,
            max_schema_bytes=config.max_schema_bytes,
            schema_compile_timeout_s=config.schema_compile_timeout_s,
        )
        add_service(self.server, self.screening,
                    screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"])
        add_service(self.server, self.generation,
                    generation_pb2.DESCRIPTOR.services_by_name["GenerationService"])
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = self._bind(credentials.tls)

    def _auth_failed(self, method: str | None, reason: str) -> None:
        self.metrics.record_auth_failure(reason)
        if method is not None:  # one of ours: a bounded label
            self.metrics.observe_rpc(method, "UNAUTHENTICATED", 0.0)

    def _bind(self, tls: grpc.ServerCredentials | None) -> int:
        address = f"{self.config.host}:{self.config.port}"
        if tls is not None:
            port = self.server.add_secure_port(address, tls)
        else:
            port = self.server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"could not bind {address}")
        return int(port)

    async def start(self) -> None:
        if self.config.metrics_port is not None and self.config.metrics_port >= 0:
            # 0 binds a free port (tests); the CLI maps --metrics-port 0 to "off" (None).
            self.metrics_port = self.metrics.start_http_server(self.config.metrics_host,
                                                               self.config.metrics_port)
        await self.server.start()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        loop = asyncio.get_running_loop()

        def on_dead(exc: BaseException) -> None:
            loop.call_soon_threadsafe(self._engine_died, exc)

        self.engine.on_dead = on_dead
        log.info("serving", extra={"port": self.port})

    async def _set_health(self, status: int) -> None:
        await self.health.set(health.OVERALL_HEALTH, status)
        for name in SERVICE_NAMES:
            await self.health.set(name, status)

    async def drain(self) -> None:
        """Graceful shutdown: NOT_SERVING, refuse new calls, let the running ones finish."""
        if self.state.draining:
            return
        log.info("draining", extra={"grace_s": self.config.grace_period_s})
        self.state.draining = True
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        # Wait for our calls, not for grpc's: server.stop(grace) would also wait for health
        # Watch streams, which stay open as long as their client likes. Meanwhile the server
        # keeps accepting, so late calls get our UNAVAILABLE + RetryInfo, not a reset.
        loop = asyncio.get_running_loop()
        end = loop.time() + self.config.grace_period_s
        while self.state.in_flight > 0 and loop.time() < end:
            await asyncio.sleep(DRAIN_POLL_S)
        if self.state.calls:  # the grace period is over: answer them before the server stops
            await asyncio.gather(*(call.cut(self.config.retry_after_s)
                                   for call in list(self.state.calls)))
            end = loop.time() + CUT_FLUSH_S
            while self.state.in_flight > 0 and loop.time() < end:
                await asyncio.sleep(DRAIN_POLL_S)
        log.info("drained", extra={"in_flight": self.state.in_flight})
        await self.server.stop(min(WATCH_CLOSE_GRACE_S, self.config.grace_period_s))
        self.engine.shutdown()
        self._close()
        if self.exit_code is None:
            self.exit_code = 0
        self._stopped.set()

    def _engine_died(self, exc: BaseException) -> None:
        log.error("engine failed; shutting down", extra={"error": repr(exc)})
        self.exit_code = 1
        self.state.draining = True
        self._tasks.add(asyncio.ensure_future(self._die()))

    async def _die(self) -> None:
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(1.0)  # calls in flight already got INTERNAL from the engine
        self.engine.shutdown()
        self._close()
        self._stopped.set()

    def _close(self) -> None:
        self.generation.schemas.close()
        self.state.documents.close()
        self.metrics.close()
        if self.state.audit is not None:
            self.state.audit.close()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._drain_soon)

    def _drain_soon(self) -> None:
        self._tasks.add(asyncio.ensure_future(self.drain()))

    async def wait(self) -> int:
        await self._stopped.wait()
        return self.exit_code or 0


async def serve(config: ServerConfig, engine_args: EngineArgs) -> int:
    loop = asyncio.get_running_loop()
    # A bad token or TLS file fails now, not after minutes of loading weights.
    credentials = load_credentials(config)
    prefer_mmap_for_large_buffers()
    # Loading weights takes seconds to minutes: keep it off the event loop.
    engine = await loop.run_in_executor(None, AsyncEngine, engine_args)
    app = HireServer(config, engine, credentials)
    await app.start()
    app.install_signal_handlers()
    metrics = f", metrics on :{app.metrics_port}/metrics" if app.metrics_port else ""
    print(f"hireserve: serving {engine.info.model} on {config.host}:{app.port}"
          f"{metrics}", flush=True)
    return await app.wait()
