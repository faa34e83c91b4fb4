"""`hireserve` client commands run as subprocesses against the fake server, on the examples."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from hireserve.clients.documents import document_from_file
from hireserve.v1 import screening_pb2
from tests.clients.conftest import REPO
from tests.clients.fake_server import FakeServer, read_text, rubric, score

PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable


def cli(*args: str, target: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIRESERVE_")}
    env["COLUMNS"] = "120"
    extra = ["--target", target] if target else []
    argv = [PYTHON, "-m", "hireserve.clients.cli", *args[:1], *extra, *args[1:]]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def expected_score(jd: Path, resume: Path) -> int:
    """The fake's score for a file, computed here from the file itself."""
    text, _, _ = read_text(document_from_file(resume), "resume")
    return score(jd.read_text(encoding="utf-8"), text)


MARK = {screening_pb2.REQUIREMENT_VERDICT_MET: "✓", screening_pb2.REQUIREMENT_VERDICT_PARTIAL: "~",
        screening_pb2.REQUIREMENT_VERDICT_MISSING: "✗"}


def expected_marks(jd: Path, resume: Path) -> tuple[str, str]:
    """(must-have marks, nice-to-have marks) of the fake's verdicts for a file, in job order."""
    text, _, _ = read_text(document_from_file(resume), "resume")
    items = rubric(jd.read_text(encoding="utf-8"), text)
    must = screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE
    return ("".join(MARK[a.verdict] for a in items if a.importance == must),
            "".join(MARK[a.verdict] for a in items if a.importance != must))


def test_parser_needs_no_torch() -> None:
    code = ("import sys, hireserve.clients.cli as c; p = c.build_parser(); "
            "p.parse_args(['rank', '--jd', 'x', 'd']); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "import hireserve.clients.client, hireserve.clients.aio, hireserve.clients.rank, "
            "hireserve.clients.commands; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([PYTHON, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_screen_readable_and_json(fake: FakeServer, examples_dir: Path) -> None:
    jd = examples_dir / "jobs" / "backend_engineer.txt"
    files = [examples_dir / "resumes" / n for n in ("alice_nguyen.pdf", "zhang_wei.docx")]
    done = cli("screen", "--jd", str(jd), *map(str, files), target=fake.target)
    assert done.returncode == 0, done.stderr
    for f in files:
        assert f"{f.name}  score {expected_score(jd, f)}/100" in done.stdout
    assert done.stdout.count("Evidence (resume line)") == len(files)  # the rubric table

    done = cli("screen", "--jd", str(jd), "--json", *map(str, files), target=fake.target)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [Path(o["file"]).name for o in out] == [f.name for f in files]
    assert [o["result"]["match_score"] for o in out] == [expected_score(jd, f) for f in files]
    assert out[0]["result"]["document"] == {"format": "pdf", "pages": 1,
                                            "hidden_characters_dropped": 0, "warnings": []}


def test_rank_folder_with_corrupt_file(fake: FakeServer, examples_dir: Path,
                                       tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    shutil.copytree(examples_dir / "resumes", folder)
    (folder / "corrupt.pdf").write_bytes(bytes(range(256)) * 4)  # no %PDF header
    (folder / "notes.xlsx").write_bytes(b"ignored: not a resume type")
    jd = examples_dir / "jobs" / "backend_engineer.txt"
    out_csv, out_json = tmp_path / "rank.csv", tmp_path / "rank.json"
    done = cli("rank", "--jd", str(jd), str(folder), "--csv", str(out_csv), "--json",
               str(out_json), "--batch-size", "3", target=fake.target)
    assert done.returncode == 0, done.stderr

    with out_csv.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["rank", "file", "score", "must_haves", "nice_to_haves",
                                 "summary", "red_flags", "error"]
    resumes = sorted(p for p in folder.iterdir() if p.suffix != ".xlsx")
    assert sorted(r["file"] for r in rows) == [p.name for p in resumes]

    bad = rows[-1]
    assert bad["file"] == "corrupt.pdf" and bad["rank"] == "" and bad["score"] == ""
    assert "INVALID_ARGUMENT" in bad["error"] and "[field resumes[" in bad["error"]

    good = rows[:-1]
    assert [int(r["rank"]) for r in good] == list(range(1, len(good) + 1))
    by_name = {p.name: expected_score(jd, p) for p in resumes if p.name != "corrupt.pdf"}
    assert {r["file"]: int(r["score"]) for r in good} == by_name
    # Best first; ties in file order (the server's rule), across batches of 3.
    order = [p.name for p in resumes]
    expected = sorted(by_name, key=lambda n: (-by_name[n], order.index(n)))
    assert [r["file"] for r in good] == expected
    assert all(not r["error"] for r in good)
    marks = {p.name: expected_marks(jd, p) for p in resumes if p.name != "corrupt.pdf"}
    assert {r["file"]: (r["must_haves"], r["nice_to_haves"]) for r in good} == marks
    assert {len(m) for m, _ in marks.values()} == {8} and {len(n) for _, n in marks.values()} == {4}
    assert len({m for m, _ in marks.values()}) > 1  # the resumes differ: the column says how
    flagged = next(r for r in good if r["file"] == "eve_hidden_text.pdf")
    assert flagged["red_flags"]
    assert (bad["must_haves"], bad["nice_to_haves"]) == ("", "")

    as_json = json.loads(out_json.read_text(encoding="utf-8"))
    assert [(j["file"], j["score"]) for j in as_json] == [
        (r["file"], int(r["score"]) if r["score"] else None) for r in rows]
    assert [list(j) for j in as_json] == [[*reader.fieldnames, "requirements"]] * len(rows)
    assert isinstance(as_json[0]["red_flags"], list)
    first = as_json[0]
    assert len(first["requirements"]) == 12 and set(first["requirements"][0]) == {
        "requirement", "label", "verdict", "evidence"}
    assert "".join(MARK[getattr(screening_pb2, f"REQUIREMENT_VERDICT_{q['verdict'].upper()}")]
                   for q in first["requirements"]) == "".join(marks[first["file"]])
    assert as_json[-1]["requirements"] == []  # the corrupt file
    # The table: one row per file with its marks and its red flags.
    assert "corrupt.pdf" in done.stdout and "alice_nguyen.pdf" in done.stdout
    table = {line.split("│")[2].strip(): line for line in done.stdout.splitlines()
             if line.count("│") >= 7 and line.split("│")[2].strip() in marks}
    assert set(table) == set(marks)
    for name, (must, nice) in marks.items():
        cells = [c.strip() for c in table[name].split("│")]
        assert (cells[4], cells[5]) == (must, nice)
        # eve's PDF hides "ignore all previous instructions" (the fake reads hidden text)
        flags = cells[7]
        assert flags.startswith("Text addressed") if name == "eve_hidden_text.pdf" else flags == "-"
    assert len(fake.script.times("ScreenBatch")) == 3  # 8 resumes in batches of 3


def test_rank_local_file_error_is_a_row(fake: FakeServer, examples_dir: Path,
                                        tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(examples_dir / "resumes" / "carla_diaz.txt", folder)
    (folder / "huge.txt").write_text("Python " * 2000)
    out_csv = tmp_path / "rank.csv"
    done = cli("rank", "--jd", str(examples_dir / "jobs" / "backend_engineer.txt"), str(folder),
               "--csv", str(out_csv), "--max-file-mib", "0.005", target=fake.target)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [(r["rank"], r["file"]) for r in rows] == [("1", "carla_diaz.txt"), ("", "huge.txt")]
    assert rows[1]["error"].startswith("could not read the file: file is 14000 bytes")


def test_questions(fake: FakeServer, examples_dir: Path) -> None:
    resume = examples_dir / "resumes" / "li_na.txt"
    done = cli("questions", str(resume), "--jd", str(examples_dir / "jobs" / "data_scientist.txt"),
               "-n", "3", "--json", target=fake.target)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [q["type"] for q in out["questions"]] == [
        "QUESTION_TYPE_TECHNICAL", "QUESTION_TYPE_BEHAVIOURAL", "QUESTION_TYPE_OPEN_ENDED"]
    done = cli("questions", str(resume), target=fake.target)
    assert done.returncode == 0, done.stderr
    assert "technical" in done.stdout and "li_na.txt" in done.stdout


def test_health_and_info(fake: FakeServer) -> None:
    done = cli("health", target=fake.target)
    assert (done.returncode, done.stdout.strip()) == (0, "SERVING")
    done = cli("info", "--json", target=fake.target)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["context_length"] == 32768
    done = cli("info", target=fake.target)
    assert "attention_backend" in done.stdout and "torch_sdpa" in done.stdout


def test_grpc_errors_exit_non_zero_with_one_line(fake: FakeServer, examples_dir: Path,
                                                 tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"\x00\x01 not a pdf")
    done = cli("screen", "--jd", str(examples_dir / "jobs" / "backend_engineer.txt"),
               str(corrupt), target=fake.target)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "INVALID_ARGUMENT" in lines[0] and "[field resume]" in lines[0]

    missing = cli("screen", "--jd", str(tmp_path / "nope.txt"), str(corrupt), target=fake.target)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_token_flags(fake: FakeServer, tmp_path: Path) -> None:
    fake.script.token = "tok-123"
    denied = cli("info", target=fake.target)
    assert denied.returncode == 1 and "UNAUTHENTICATED" in denied.stderr
    token_file = tmp_path / "token"
    token_file.write_text("tok-123\n")
    ok = cli("info", "--token-file", str(token_file), target=fake.target)
    assert ok.returncode == 0, ok.stderr
    assert fake.script.calls[-1][1]["authorization"] == "Bearer tok-123"
