"""The token and TLS files are checked before the model loads: a bad one stops `hireserve serve`
at once, naming the flag and the file (it was found only after the weights had loaded)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hireserve.server.config import ServerConfig
from hireserve.server.credentials import CredentialsError, load_credentials

REPO = Path(__file__).resolve().parents[2]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-x509",
          "-days", "2"]
    for name in ("ca", "server", "other"):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.pem",
                 "-subj", f"/CN={name}", cwd=d)
    return d


def _error(tmp_path: Path, **config: object) -> str:
    with pytest.raises(CredentialsError) as info:
        load_credentials(ServerConfig(**config))  # type: ignore[arg-type]
    return str(info.value)


def test_token_file_problems_name_the_flag_and_the_file(tmp_path) -> None:
    missing = tmp_path / "nope"
    assert _error(tmp_path, token_file=missing) == (
        f"--token-file {missing}: cannot read it (No such file or directory)")
    for content, reason in [("", "the file is empty"), ("\n  \n", "the file is empty"),
                            ("two tokens", "one token on one line"),
                            ("a\nb", "one token on one line")]:
        token = tmp_path / "token"
        token.write_text(content)
        assert reason in _error(tmp_path, token_file=token), content
    token.write_bytes(b"\xff\xfe")
    assert _error(tmp_path, token_file=token).endswith("not UTF-8 text")
    token.write_text("s3cret\n")
    credentials = load_credentials(ServerConfig(token_file=token))
    assert credentials.token == "s3cret" and "s3cret" not in repr(credentials)


def test_tls_files_are_parsed_and_the_key_must_match(pki: Path, tmp_path) -> None:
    ok = load_credentials(ServerConfig(tls_cert=pki / "server.pem", tls_key=pki / "server.key",
                                       tls_client_ca=pki / "ca.pem"))
    assert ok.tls is not None and ok.token is None
    assert "the key does not match" in _error(
        tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "other.key")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    assert _error(tmp_path, tls_cert=garbage, tls_key=pki / "server.key").startswith(
        f"--tls-cert {garbage} / --tls-key")
    assert _error(tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "server.key",
                  tls_client_ca=garbage).startswith(f"--tls-client-ca {garbage}: not a PEM")
    assert _error(tmp_path, tls_cert=pki / "server.pem", tls_key=tmp_path / "none.key") == (
        f"--tls-key {tmp_path / 'none.key'}: cannot read it (No such file or directory)")


def test_serve_stops_before_loading_the_model(tmp_path) -> None:
    """The model path does not exist either: the token file is what the error names, so the
    check ran first."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "hireserve.clients.cli", "serve", "--model",
         str(tmp_path / "no-model"), "--token-file", str(tmp_path / "no-token"),
         "--metrics-port", "0", "--port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"--token-file {tmp_path / 'no-token'}: cannot read it" in done.stderr
    assert time.monotonic() - started < 60
