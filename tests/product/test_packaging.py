"""The wheel installs one namespace: `hireserve` (PyPI's `scheduler` once overwrote ours when
server/, scheduler/ and clients/ were top-level packages in site-packages)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy: a stale build/ folder in the checkout (setuptools reuses build/lib)
    # could carry packages that no longer exist and hide the very bug this test is about.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "hireserve", src / "hireserve",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Decoys: top-level folders that must never be packaged even when present next to it.
    for decoy in ("benchmarks", "examples", "tests", "scheduler"):
        (src / decoy).mkdir()
        (src / decoy / "__init__.py").write_text("")
    out = tmp_path_factory.mktemp("dist")
    # Without build isolation when the venv has setuptools (no download, same wheel); a venv
    # without it (Python 3.12+ makes them bare) lets pip fetch the build backend.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                    "-q", "-w", str(out), str(src)], check=True, timeout=300)
    (built,) = out.glob("hireserve-*.whl")
    return built


@pytest.mark.slow
def test_wheel_has_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"hireserve"}, sorted(top)
    # top_level.txt is what pip uses to tell which import names a distribution owns.
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")] or [None]
    if top_level is not None:
        assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["hireserve"]


@pytest.mark.slow
def test_wheel_carries_the_subpackages_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("hireserve/server/app.py", "hireserve/scheduler/scheduler.py",
                   "hireserve/clients/client.py", "hireserve/v1/screening_pb2.py",
                   "hireserve/clients/affinity.py"):
        assert module in names, module
    # The .pyi stubs give callers typed responses: they must ship (package-data).
    assert "hireserve/v1/screening_pb2.pyi" in names


@pytest.mark.slow
def test_console_script_points_into_the_namespace(wheel: Path) -> None:
    zf = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in zf.namelist() if n.endswith("entry_points.txt")]
    text = zf.read(entry_points).decode()
    assert "hireserve = hireserve.clients.cli:main" in text
