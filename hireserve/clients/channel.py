"""Channels: plaintext, TLS (system or custom roots) or mTLS, with the message limits we need."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import grpc

MiB = 2**20
# The server accepts 32 MiB requests by default (a 20 MiB PDF plus the rest); a batch of
# resumes can be larger, and the client should let the server be the one to refuse it.
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 256 * MiB),
    ("grpc.max_receive_message_length", 64 * MiB),
]

PemSource = Union[bytes, str, "os.PathLike[str]"]


def _pem(value: PemSource | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return Path(value).read_bytes()


@dataclass(frozen=True)
class TlsConfig:
    """TLS settings. PEM values are bytes or file paths.

    `root_cert`: CA bundle that signed the server's certificate (None: the system roots).
    `client_cert` + `client_key`: present a client certificate (mTLS).
    `server_name`: expected name in the server's certificate when it differs from the target
    host (e.g. connecting by IP to a certificate issued for a DNS name).
    """

    root_cert: PemSource | None = None
    client_cert: PemSource | None = None
    client_key: PemSource | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together (mTLS)")

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=_pem(self.root_cert),
            private_key=_pem(self.client_key),
            certificate_chain=_pem(self.client_cert),
        )

    def options(self) -> list[tuple[str, str]]:
        if self.server_name:
            return [("grpc.ssl_target_name_override", self.server_name)]
        return []


TlsSetting = Union[TlsConfig, bool, None]  # noqa: UP007 (runtime alias)


def resolve_tls(tls: TlsSetting) -> TlsConfig | None:
    """`None`/`False`: plaintext; `True`: TLS with the system roots; a TlsConfig: as given."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return TlsConfig()
    return tls


def sync_channel(target: str, tls: TlsConfig | None) -> grpc.Channel:
    if tls is None:
        return grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    return grpc.secure_channel(target, tls.credentials(), options=CHANNEL_OPTIONS + tls.options())


def aio_channel(target: str, tls: TlsConfig | None) -> grpc.aio.Channel:
    if tls is None:
        return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(
        target, tls.credentials(), options=CHANNEL_OPTIONS + tls.options()
    )
