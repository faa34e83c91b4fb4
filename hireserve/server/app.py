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

from hireserve.server.audit import open_audit_log
from hireserve.server.auth import BearerTokenInterceptor
from hireserve.server.config import ServerConfig
from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.metrics import Metrics
from hireserve.server.service.generation import GenerationServicer
from hireserve.server.service.rpc import ServiceState
from hireserve.server.service.screening import ScreeningServicer
from hireserve.v1 import generation_pb2, generation_pb2_grpc, screening_pb2, screening_pb2_grpc

log = logging.getLogger("hireserve.server")

DRAIN_POLL_S = 0.05  # how often a drain looks whether the calls in flight are done
WATCH_CLOSE_GRACE_S = 0.5  # lets Watch streams flush NOT_SERVING before they are closed

SERVICE_NAMES = (
    screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"].full_name,
    generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name,
)


class HireServer:
    def __init__(self, config: ServerConfig, engine: AsyncEngine) -> None:
        self.config = config
        self.engine = engine
        self.state = ServiceState()
        self.metrics = Metrics(services=[
            screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"],
            generation_pb2.DESCRIPTOR.services_by_name["GenerationService"],
        ])
        self.state.metrics = self.metrics
        self.state.observers.append(self.metrics.observe_rpc)
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
        interceptors = []
        if config.token_file is not None:
            token = config.token_file.read_text().strip()
            interceptors.append(BearerTokenInterceptor(token))
        limit = config.max_message_bytes
        self.server = grpc.aio.server(
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", limit),
                     ("grpc.max_send_message_length", limit)],
        )
        model_name = engine.info.model
        self.screening = ScreeningServicer(engine, self.state, config, model_name=model_name)
        self.generation = GenerationServicer(
            engine, self.state, model_name=model_name, retry_after_s=config.retry_after_s,
            default_max_tokens=config.default_max_tokens,
            max_schema_bytes=config.max_schema_bytes,
            schema_compile_timeout_s=config.schema_compile_timeout_s,
        )
        screening_pb2_grpc.add_ScreeningServiceServicer_to_server(  # type: ignore[no-untyped-call]
            self.screening, self.server)
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(  # type: ignore[no-untyped-call]
            self.generation, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = self._bind()

    def _bind(self) -> int:
        address = f"{self.config.host}:{self.config.port}"
        c = self.config
        if c.tls_cert is not None and c.tls_key is not None:
            root = c.tls_client_ca.read_bytes() if c.tls_client_ca else None
            creds = grpc.ssl_server_credentials(
                [(c.tls_key.read_bytes(), c.tls_cert.read_bytes())],
                root_certificates=root,
                require_client_auth=root is not None,
            )
            port = self.server.add_secure_port(address, creds)
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
    # Loading weights takes seconds to minutes: keep it off the event loop.
    engine = await loop.run_in_executor(None, AsyncEngine, engine_args)
    app = HireServer(config, engine)
    await app.start()
    app.install_signal_handlers()
    metrics = f", metrics on :{app.metrics_port}/metrics" if app.metrics_port else ""
    print(f"hireserve: serving {engine.info.model} on {config.host}:{app.port}"
          f"{metrics}", flush=True)
    return await app.wait()
