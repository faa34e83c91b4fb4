"""The committed stubs match the .proto files, import without torch, and follow buf style."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto" / "hireserve" / "v1"
STUB_DIR = REPO / "hireserve" / "v1"


def _googleapis_include() -> str:
    import google.rpc.status_pb2 as status_pb2

    return str(Path(status_pb2.__file__).parents[2])


def test_committed_stubs_are_fresh(tmp_path: Path) -> None:
    from grpc_tools import protoc

    proto_root = tmp_path / "proto"
    shutil.copytree(REPO / "proto", proto_root)
    out = tmp_path / "out"
    out.mkdir()
    well_known = str(Path(protoc.__file__).parent / "_proto")
    sources = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    # Same flags as `make proto`; protoc resolves sources relative to the -I roots.
    cwd = os.getcwd()
    os.chdir(proto_root)
    try:
        rc = protoc.main(
            [
                "protoc",
                "-I.",
                f"-I{_googleapis_include()}",
                f"-I{well_known}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                *sources,
            ]
        )
    finally:
        os.chdir(cwd)
    assert rc == 0
    generated = sorted(p.name for p in (out / "hireserve" / "v1").iterdir())
    committed = sorted(p.name for p in STUB_DIR.iterdir() if "_pb2" in p.name)
    assert generated == committed, "stubs missing or extra: run `make proto`"
    _, mismatch, errors = filecmp.cmpfiles(
        out / "hireserve" / "v1", STUB_DIR, generated, shallow=False
    )
    assert not mismatch and not errors, f"stale stubs {mismatch}: run `make proto`"


def test_stubs_import_without_torch() -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # any import of torch now raises\n"
        "from hireserve.v1 import common_pb2, generation_pb2_grpc, screening_pb2_grpc\n"
        "import hireserve\n"
        "assert hireserve.__version__ == '0.1.0'\n"
        "assert 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_services_and_rpcs() -> None:
    from hireserve.v1 import generation_pb2, screening_pb2

    screening = screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"]
    methods = {m.name: m for m in screening.methods}
    assert set(methods) == {"Screen", "ScreenBatch", "GenerateQuestions"}
    assert methods["ScreenBatch"].server_streaming
    assert not methods["Screen"].server_streaming
    generation = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"]
    gen_methods = {m.name: m for m in generation.methods}
    assert set(gen_methods) == {"Generate", "GetModelInfo"}
    assert gen_methods["Generate"].server_streaming
    # buf style: one request and one response message per RPC, named after it.
    for service in (screening, generation):
        for m in service.methods:
            assert m.input_type.name == f"{m.name}Request"
            assert m.output_type.name == f"{m.name}Response"


def test_enums_start_with_unspecified() -> None:
    from hireserve.v1 import common_pb2, generation_pb2, screening_pb2

    for module in (common_pb2, generation_pb2, screening_pb2):
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper()
            assert enum.values_by_number[0].name == f"{prefix}_UNSPECIFIED"
            assert all(v.name.startswith(prefix + "_") for v in enum.values)


def test_every_field_and_message_is_commented() -> None:
    for proto in sorted(PROTO_DIR.glob("*.proto")):
        lines = proto.read_text().splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            is_decl = re.match(r"^(optional |repeated )?[\w.]+ \w+ = \d+;", stripped) or re.match(
                r"^(message|enum|service|rpc|oneof) ", stripped
            )
            if is_decl:
                assert lines[i - 1].strip().startswith("//"), f"{proto.name}:{i + 1} uncommented"


def test_document_oneof_and_round_trip() -> None:
    from hireserve.v1 import common_pb2, screening_pb2

    doc = common_pb2.Document(data=b"%PDF-1.7", media_type="application/pdf", filename="a.pdf")
    assert doc.WhichOneof("content") == "data"
    doc.text = "plain"
    assert doc.WhichOneof("content") == "text"
    request = screening_pb2.ScreenBatchRequest(
        job_description="Rust engineer",
        resumes=[screening_pb2.BatchResume(resume_id="r1", resume=doc)],
    )
    request.options.sampling.seed = 7
    parsed = screening_pb2.ScreenBatchRequest.FromString(request.SerializeToString())
    assert parsed.resumes[0].resume_id == "r1"
    assert parsed.options.sampling.HasField("seed")
    assert not parsed.options.sampling.HasField("temperature")


@pytest.mark.parametrize("name", ["common", "screening", "generation"])
def test_package_is_versioned(name: str) -> None:
    text = (PROTO_DIR / f"{name}.proto").read_text()
    assert "package hireserve.v1;" in text
