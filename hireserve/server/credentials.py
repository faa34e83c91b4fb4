"""The bearer-token and TLS files: read and checked once at start, before the model loads.

A token file that cannot be read, is empty or holds more than one token, a certificate or key
that is not PEM, a key that does not match its certificate, or a CA bundle that does not parse,
stops `hireserve serve` within a second with a message naming the flag and the file, instead of
after minutes of loading weights. A token file others can read is served, with a warning.
"""

from __future__ import annotations

import logging
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

import grpc

from hireserve.server.config import ServerConfig

log = logging.getLogger("hireserve.server")


class CredentialsError(ValueError):
    """A token or TLS file the server cannot use; the message names the flag and the path."""


@dataclass(frozen=True)
class Credentials:
    token: str | None  # None: no --token-file, calls need no token
    tls: grpc.ServerCredentials | None  # None: plaintext

    def __repr__(self) -> str:  # never the token
        return f"Credentials(token={'set' if self.token else None}, tls={self.tls is not None})"


def load_credentials(config: ServerConfig) -> Credentials:
    token = None if config.token_file is None else read_token(config.token_file)
    tls = None
    if config.tls_cert is not None and config.tls_key is not None:
        tls = _server_tls(config.tls_cert, config.tls_key, config.tls_client_ca)
    return Credentials(token, tls)


def read_token(path: Path) -> str:
    data = _read(path, "--token-file")
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise CredentialsError(f"--token-file {path}: not UTF-8 text") from exc
    if not token:
        raise CredentialsError(f"--token-file {path}: the file is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise CredentialsError(f"--token-file {path}: one token on one line, without spaces or "
                               "control characters")
    if path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("the token file is readable by other users", extra={"path": str(path)})
    return token


def _server_tls(cert: Path, key: Path, client_ca: Path | None) -> grpc.ServerCredentials:
    cert_pem, key_pem = _read(cert, "--tls-cert"), _read(key, "--tls-key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:  # parses both and checks that the key belongs to the certificate
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise CredentialsError(
            f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate chain and its "
            f"private key, or the key does not match the certificate ({exc.reason})") from exc
    root = None
    if client_ca is not None:
        root = _read(client_ca, "--tls-client-ca")
        try:
            context.load_verify_locations(cafile=client_ca)
        except ssl.SSLError as exc:
            raise CredentialsError(
                f"--tls-client-ca {client_ca}: not a PEM CA bundle ({exc.reason})") from exc
    return grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=root,
                                       require_client_auth=root is not None)


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"{flag} {path}: cannot read it ({exc.strerror})") from exc
