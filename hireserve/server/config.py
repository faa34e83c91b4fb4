"""Server settings (not engine settings: those are EngineArgs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hireserve.server.documents.limits import DocumentLimits

MiB = 2**20


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 50051
    # Local by default (the endpoint has no auth); in a pod, --metrics-host 0.0.0.0.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9400  # None: no /metrics endpoint; 0: any free port
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # set: clients must present a certificate (mTLS)
    token_file: Path | None = None  # set: calls need "authorization: Bearer <token>"
    max_message_bytes: int = 32 * MiB  # fits a 20 MiB PDF plus the rest of the request
    document_limits: DocumentLimits = field(default_factory=DocumentLimits)
    document_workers: int = 2  # processes that read PDF and DOCX (started on first use)
    document_queue: int = 16  # documents waiting for a worker before RESOURCE_EXHAUSTED
    # Calls of our services in progress (counted before their request is read) and the bytes
    # their requests hold; past either, RESOURCE_EXHAUSTED with RetryInfo. Health is exempt.
    max_concurrent_rpcs: int = 256
    max_request_bytes_in_flight: int = 1024 * MiB
    # A job description longer than this is refused (INVALID_ARGUMENT): ~25K tokens.
    max_job_description_chars: int = 100_000
    max_batch_resumes: int = 1000
    grace_period_s: float = 30.0  # SIGTERM: in-flight calls get this long to finish
    retry_after_s: float = 1.0  # RetryInfo hint when the queue is full
    default_max_tokens: int = 256  # Generate, when the request says 0
    max_schema_bytes: int = 64 * 1024  # Generate's json_schema
    schema_compile_timeout_s: float = 5.0  # a schema that compiles longer is refused
    audit_log: Path | None = None  # JSONL, one record per decision; off when None
    # "record": fsync each line; "batch": every 64 lines or 1 s
    audit_fsync: Literal["record", "batch"] = "record"

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        if self.max_schema_bytes < 1 or not self.schema_compile_timeout_s > 0:
            raise ValueError("--max-schema-kib and --schema-compile-timeout must be positive")
        if self.document_workers < 1 or self.document_queue < 0:
            raise ValueError("--document-workers must be >= 1 and --document-queue >= 0")
        if self.max_concurrent_rpcs < 1 or self.max_request_bytes_in_flight < 1:
            raise ValueError("--max-concurrent-rpcs and --max-request-mib-in-flight must be "
                             "positive")
