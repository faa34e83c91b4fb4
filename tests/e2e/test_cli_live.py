"""The `hireserve` CLI as a newcomer runs it (README): commands as subprocesses against a live
server, on the generated examples."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format
from screen_checks import check_screen
from server_thread import ServerThread

from hireserve.server.engine.args import EngineArgs
from hireserve.v1 import common_pb2, screening_pb2

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    command, rest = args[0], args[1:]
    return subprocess.run(
        [sys.executable, "-m", "hireserve.clients.cli", command, "--target", target, *rest],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={"COLUMNS": "140", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def smollm2_server():
    """The embedded default model (SmolLM2-135M-Instruct): real weights, so the job analysis
    and the questions run as they do for a user, and still small enough for CI."""
    s = ServerThread(EngineArgs(model="default", dtype="float32", device="cpu",
                                num_kv_blocks=1024, max_num_batched_tokens=1024))
    yield s
    s.stop()


RANKED = ("alice_nguyen.pdf", "carla_diaz.txt", "eve_hidden_text.pdf")
MARKS = {"met": "✓", "partial": "~", "missing": "✗"}


def test_rank_a_folder_of_examples(smollm2_server, tmp_path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in RANKED:
        shutil.copy(EXAMPLES / "resumes" / name, folder)
    jd = str(EXAMPLES / "jobs" / "backend_engineer.txt")
    out_csv, out_json = tmp_path / "rank.csv", tmp_path / "rank.json"
    done = cli(smollm2_server.target, "rank", "--jd", jd, str(folder), "--csv", str(out_csv),
               "--json", str(out_json))
    assert done.returncode == 0, done.stderr

    with out_csv.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["rank", "file", "score", "must_haves", "nice_to_haves",
                                 "summary", "red_flags", "error"]
    assert sorted(r["file"] for r in rows) == list(RANKED)  # each file once
    assert [r["rank"] for r in rows] == ["1", "2", "3"] and not any(r["error"] for r in rows)
    scores = [int(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)

    as_json = json.loads(out_json.read_text(encoding="utf-8"))
    assert [j["file"] for j in as_json] == [r["file"] for r in rows]
    for row, item in zip(rows, as_json, strict=True):
        assert list(item) == [*reader.fieldnames, "requirements"]
        # backend_engineer.txt: 5 must-haves then 3 nice-to-haves (tests/screening).
        verdicts = [MARKS[q["verdict"]] for q in item["requirements"]]
        assert len(verdicts) == 8
        assert (row["must_haves"], row["nice_to_haves"]) == (
            "".join(verdicts[:5]), "".join(verdicts[5:]))
        assert row["red_flags"] == " | ".join(item["red_flags"])

    # eve's white text is dropped and flagged, exactly as `hireserve screen` reports it.
    eve = next(r for r in rows if r["file"] == "eve_hidden_text.pdf")
    assert "Hidden text" in eve["red_flags"]
    assert not any(r["red_flags"] for r in rows if r is not eve)
    screened = cli(smollm2_server.target, "screen", "--jd", jd,
                   str(folder / "eve_hidden_text.pdf"), "--json")
    assert screened.returncode == 0, screened.stderr
    [answer] = json.loads(screened.stdout)
    assert " | ".join(answer["result"]["red_flags"]) == eve["red_flags"]
    pdf = folder / "eve_hidden_text.pdf"
    check_screen(json_format.ParseDict(answer["result"], screening_pb2.ScreenResponse()),
                 common_pb2.Document(data=pdf.read_bytes(), filename=pdf.name))

    table = [line for line in done.stdout.splitlines() if line.count("│") >= 7]
    for name in RANKED:  # the ranked table: one row per file, eve's with its flag
        [line] = [line for line in table if f" {name} " in line]
        flags = line.split("│")[7].strip()
        assert flags.startswith("Hidden text") if name == "eve_hidden_text.pdf" else flags == "-"


def test_screen_questions_health_info(server) -> None:
    jd = str(EXAMPLES / "jobs" / "backend_engineer.txt")
    resume = str(EXAMPLES / "resumes" / "carla_diaz.txt")
    screened = cli(server.target, "screen", "--jd", jd, resume, "--json")
    assert screened.returncode == 0, screened.stderr
    [answer] = json.loads(screened.stdout)  # one entry per resume file
    assert answer["file"].endswith("carla_diaz.txt")
    assert 0 <= int(answer["result"]["match_score"]) <= 100
    questions = cli(server.target, "questions", resume, "--jd", jd, "-n", "5")
    assert questions.returncode == 0, questions.stderr
    assert "TECHNICAL" in questions.stdout.upper()
    assert cli(server.target, "health").stdout.strip() == "SERVING"
    info = cli(server.target, "info")
    assert info.returncode == 0 and "context_length" in info.stdout


def test_a_client_error_is_one_line_with_the_field(server, tmp_path) -> None:
    empty_jd = tmp_path / "jd.txt"
    empty_jd.write_text("   ")
    done = cli(server.target, "screen", "--jd", str(empty_jd),
               str(EXAMPLES / "resumes" / "carla_diaz.txt"))
    assert done.returncode != 0
    assert "INVALID_ARGUMENT" in done.stderr and "job_description" in done.stderr
