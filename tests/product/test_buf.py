"""`buf lint` passes on proto/ with the lint rules of buf.yaml, offline.

buf.yaml depends on buf.build/googleapis/googleapis, which lives in the Buf Schema Registry and
is unreachable here and in CI. The test builds a throwaway workspace with the same lint and
breaking config: our module plus a local module holding google/rpc (copied from the
google-proto-files npm package that clients-node/ installs), then lints only our module.
buf itself comes from the @bufbuild/buf npm package (clients-node/ devDependency; `npm ci`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "clients-node" / "node_modules"
GOOGLE_RPC = NODE_MODULES / "google-proto-files" / "google" / "rpc"


def _buf() -> str:
    local = NODE_MODULES / ".bin" / "buf"
    found = str(local) if local.exists() else shutil.which("buf")
    if found is None:
        pytest.skip("buf not installed: run `make node-client` (npm ci in clients-node/)")
    return found


def _offline_workspace(tmp_path: Path, proto_src: Path) -> Path:
    config = yaml.safe_load((REPO / "buf.yaml").read_text())
    assert config["version"] == "v2"
    assert "buf.build/googleapis/googleapis" in config["deps"]
    shutil.copytree(proto_src, tmp_path / "proto")
    rpc = tmp_path / "googleapis" / "google" / "rpc"
    rpc.mkdir(parents=True)
    for name in ("status.proto", "error_details.proto"):
        shutil.copy(GOOGLE_RPC / name, rpc / name)
    offline = {
        "version": "v2",
        "modules": [{"path": "proto"}, {"path": "googleapis"}],
        "lint": config["lint"],
        "breaking": config["breaking"],
    }
    (tmp_path / "buf.yaml").write_text(yaml.safe_dump(offline))
    return tmp_path


def _lint(buf: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BUF_CACHE_DIR": str(workspace / ".bufcache")}
    return subprocess.run([buf, "lint", "proto"], cwd=workspace, env=env, capture_output=True,
                          text=True, timeout=120)


def test_buf_lint_passes_offline(tmp_path: Path) -> None:
    buf = _buf()
    result = _lint(buf, _offline_workspace(tmp_path, REPO / "proto"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_catches_a_style_violation(tmp_path: Path) -> None:
    # The offline workspace really applies the rules: a camelCase field name must fail.
    buf = _buf()
    workspace = _offline_workspace(tmp_path, REPO / "proto")
    common = workspace / "proto" / "hireserve" / "v1" / "common.proto"
    text = common.read_text()
    assert "string media_type = 3;" in text
    common.write_text(text.replace("string media_type = 3;", "string mediaType = 3;"))
    result = _lint(buf, workspace)
    assert result.returncode != 0
    assert "lower_snake_case" in result.stdout


@pytest.mark.parametrize("name", ["common", "screening", "generation"])
def test_file_options_for_other_languages(name: str) -> None:
    from google.protobuf import descriptor_pb2

    from hireserve.v1 import common_pb2, generation_pb2, screening_pb2

    module = {"common": common_pb2, "generation": generation_pb2,
              "screening": screening_pb2}[name]
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    # Read from the compiled stubs, so `make proto` must have been run after the edit.
    assert proto.options.go_package.endswith("/gen/go/hireserve/v1;hireservev1")
    assert proto.options.java_package == "com.hireserve.v1"
    assert proto.options.java_multiple_files
    assert proto.options.java_outer_classname == f"{name.capitalize()}Proto"
