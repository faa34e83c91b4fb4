"""The Node.js client (clients-node/) against a live server: it loads proto/ at run time, gets
a typed Screen answer, streams a ScreenBatch, and decodes google.rpc rich errors (BadRequest
field violations) on the Node side. Needs node and `npm ci` in clients-node/ (.ci/run and
`make node-client` do it); skipped with a message when either is missing locally."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from server_thread import ServerThread, tiny_engine_args

from hireserve.clients.affinity import AFFINITY_HEADER, affinity_key

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "clients-node"
CLI = NODE_DIR / "bin" / "hireserve-node.js"
JD = "Backend engineer: Rust, PostgreSQL, Kubernetes. Five years of experience."
RESUME = "Jane Doe\nSenior engineer, 8 years of Rust and PostgreSQL at Acme; led a team of 4."

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed: the Node client test needs Node.js 18+")
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.skip("clients-node/node_modules missing: run `make node-client` (npm ci)")
    return found


@pytest.fixture(scope="module")
def live(tiny_chat):
    s = ServerThread(tiny_engine_args(tiny_chat))
    yield s
    s.stop()


def _run(node: str, target: str, *args: str, stdin: str | None = None) -> tuple[int, list]:
    done = subprocess.run([node, str(CLI), "--target", target, *args], input=stdin,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 2), done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def test_health_and_screen(node, live, tmp_path: Path) -> None:
    rc, [health] = _run(node, live.target, "health")
    assert rc == 0 and health == {"status": "SERVING"}
    rc, [per_service] = _run(node, live.target, "health", "hireserve.v1.ScreeningService")
    assert per_service == {"status": "SERVING"}
    jd = tmp_path / "jd.txt"
    jd.write_text(JD)
    rc, [answer] = _run(node, live.target, "screen", "--jd", str(jd), "-", stdin=RESUME)
    assert rc == 0
    assert isinstance(answer["matchScore"], int) and 0 <= answer["matchScore"] <= 100
    assert answer["requirements"], answer
    # enums arrive as names, as loaded from proto/ (not numbers from stale generated code)
    assert all(r["verdict"].startswith("REQUIREMENT_VERDICT_") for r in answer["requirements"])


def test_invalid_argument_detail_is_decoded(node, live) -> None:
    rc, [out] = _run(node, live.target, "screen", "--jd-text", "   ", "-", stdin=RESUME)
    assert rc == 2
    error = out["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert [v["field"] for v in error["fieldViolations"]] == ["job_description"]
    assert error["fieldViolations"][0]["description"]


def test_screen_batch_streams_results_then_ranking(node, live, tmp_path: Path) -> None:
    good = tmp_path / "jane.txt"
    good.write_text(RESUME)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    rc, events = _run(node, live.target, "batch", "--jd-text", JD, str(good), str(empty))
    assert rc == 0
    results = {e["result"]["resumeId"]: e["result"] for e in events if e.get("result")}
    assert set(results) == {"jane.txt", "empty.txt"}
    assert 0 <= results["jane.txt"]["response"]["matchScore"] <= 100
    # The empty resume failed alone; its google.rpc.Status was decoded into a HireError.
    failed = results["empty.txt"]["hireError"]
    assert failed["code"] == "INVALID_ARGUMENT" and failed["fieldViolations"]
    assert events[-1].get("ranking") is not None


def test_affinity_header_matches_the_python_client(node) -> None:
    from tests.clients.fake_server import FakeServer

    with FakeServer() as fake:
        rc, _ = _run(node, fake.target, "screen", "--jd-text", JD, "-", stdin=RESUME)
        assert rc == 0
        (meta,) = [m for name, m, _ in fake.script.calls if name == "Screen"]
    assert meta[AFFINITY_HEADER] == affinity_key(JD)
    assert len(meta["x-request-id"]) == 16


def test_node_unit_tests_pass(node) -> None:
    # clients-node/test/: rich-error decoding (BadRequest, RetryInfo) without a server.
    done = subprocess.run([node, "--test", "test/"], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout and "# pass 4" in done.stdout
