"""TLS and mTLS against the fake server with certificates made here by openssl."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from hireserve.clients.channel import TlsConfig
from hireserve.clients.client import HireClient
from hireserve.clients.errors import HireError
from hireserve.clients.retry import NO_RETRY
from tests.clients.fake_server import FakeServer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=test-ca", cwd=d)
    for name, ext in (("server", "subjectAltName=DNS:hire.test,IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=d)
    return d


def test_mtls(pki: Path) -> None:
    creds = grpc.ssl_server_credentials(
        [((pki / "server.key").read_bytes(), (pki / "server.pem").read_bytes())],
        root_certificates=(pki / "ca.pem").read_bytes(), require_client_auth=True)
    with FakeServer(credentials=creds) as fake:
        tls = TlsConfig(root_cert=pki / "ca.pem", client_cert=pki / "client.pem",
                        client_key=pki / "client.key", server_name="hire.test")
        with HireClient(fake.target, tls=tls) as client:
            assert client.model_info().context_length == 32768
        # Without a client certificate the handshake fails.
        no_cert = TlsConfig(root_cert=(pki / "ca.pem").read_bytes())
        with HireClient(fake.target, tls=no_cert, retry=NO_RETRY) as client, \
                pytest.raises(HireError) as info:
            client.model_info(timeout=5)
        assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_tls_config_checks_pairs() -> None:
    with pytest.raises(ValueError):
        TlsConfig(client_cert=b"x")
