"""The `hireserve` CLI as a newcomer runs it (README): commands as subprocesses against a live
server, on the generated examples."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    command, rest = args[0], args[1:]
    return subprocess.run(
        [sys.executable, "-m", "hireserve.clients.cli", command, "--target", target, *rest],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={"COLUMNS": "140", "PATH": "/usr/bin:/bin"},
    )


def test_rank_a_folder_of_examples(server, tmp_path) -> None:
    resumes = sorted(p.name for p in (EXAMPLES / "resumes").iterdir()
                     if p.suffix in {".pdf", ".docx", ".txt", ".md"})
    out_csv, out_json = tmp_path / "rank.csv", tmp_path / "rank.json"
    done = cli(server.target, "rank", "--jd", str(EXAMPLES / "jobs" / "backend_engineer.txt"),
               str(EXAMPLES / "resumes"), "--csv", str(out_csv), "--json", str(out_json))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert sorted(r["file"] for r in rows) == resumes
    assert list(rows[0]) == ["rank", "file", "score", "summary", "red_flags", "error"]
    scores = [int(r["score"]) for r in rows if not r["error"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == len(resumes)
    hidden = next(r for r in rows if r["file"] == "eve_hidden_text.pdf")
    assert "Hidden text" in hidden["red_flags"]
    assert len(json.loads(out_json.read_text(encoding="utf-8"))) == len(resumes)
    for name in resumes[:3]:
        assert name in done.stdout  # the ranked table


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
