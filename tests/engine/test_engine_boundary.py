"""AsyncEngine is the service layer's one door into the engine: no module of hireserve/ above
the engine (anything outside server/engine/ and the packages below it: scheduler/, models/,
layers/, and the generated v1/) imports the scheduler, the runner, the engine core or the model,
or reaches them through attributes (`engine.engine`, `.runner`, `.scheduler`, `engine.model`,
`getattr(x, "scheduler")`). Checked on the syntax tree of every source file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hireserve"
BELOW_THE_DOOR = ("server/engine", "scheduler", "server/models", "server/layers", "v1")
# The screening servicer's helpers, which the screening pipeline (hireserve/server/screening/)
# replaces; they reach into the core until then.
SCREENING_PATHS = ("server/service/model_calls.py",)

FORBIDDEN_MODULES = (
    "hireserve.scheduler",
    "hireserve.server.models",
    "hireserve.server.layers",
    "hireserve.server.engine.runner",
    "hireserve.server.engine.llm_engine",
    "hireserve.server.engine.parallel",
    "hireserve.server.engine.structured",
    "hireserve.server.engine.kv_cache",
)
FORBIDDEN_ATTRIBUTES = {"runner", "scheduler", "block_manager", "model_config", "tp_workers"}
ENGINE_NAMES = {"engine", "core", "llm_engine"}  # what holds an engine, where `.model` is its


def _terminal_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Every place `source` reaches below the AsyncEngine, as 'file:line: what'."""
    found: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""])
            if isinstance(node, ast.ImportFrom) and node.module == "hireserve.server.engine":
                names += [f"hireserve.server.engine.{a.name}" for a in node.names]
            for name in names:
                if any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES):
                    report(node, f"imports {name}")
        elif isinstance(node, ast.Attribute):
            owner = _terminal_name(node.value)
            if node.attr in FORBIDDEN_ATTRIBUTES:
                report(node, f".{node.attr}")
            elif node.attr == "engine" and owner == "engine":
                report(node, "engine.engine")
            elif node.attr == "model" and owner in ENGINE_NAMES:
                report(node, f"{owner}.model")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant)
              and node.args[1].value in FORBIDDEN_ATTRIBUTES):
            report(node, f"{node.func.id}(..., {node.args[1].value!r})")
    return found


def _sources(*, screening: bool) -> list[Path]:
    paths = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if any(rel == d or rel.startswith(d + "/") for d in BELOW_THE_DOOR):
            continue
        if (rel in SCREENING_PATHS) == screening:
            paths.append(path)
    return paths


@pytest.mark.parametrize("snippet", [
    "from hireserve.scheduler.errors import QueueFullError",
    "import hireserve.scheduler.scheduler",
    "from hireserve.server.engine.runner import ModelRunner",
    "from hireserve.server.engine import llm_engine",
    "from hireserve.server.models.qwen2 import Qwen2ForCausalLM",
    "n = self.engine.engine.max_model_len",
    "name = engine.engine.source.name",
    "s = engine.runner.structured",
    "core.scheduler.num_running",
    "fp = fingerprint(engine.model)",
    "x = getattr(engine, 'scheduler', None)",
])
def test_the_check_finds_each_way_in(snippet: str) -> None:
    assert violations(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "from hireserve.server.engine import AsyncEngine, EngineInfo, SamplingParams",
    "from hireserve.server.engine.errors import PromptTooLongError",
    "from hireserve.server.engine.step import StepResult",
    "name = engine.info.model; r.model; args.model; request.model",
    "engine.tokenizer.encode(text)",
    "await self.engine.score(ids, candidates)",
])
def test_the_public_api_passes(snippet: str) -> None:
    assert violations(snippet) == []


def test_nothing_above_the_engine_reaches_into_it() -> None:
    sources = _sources(screening=False)
    assert len(sources) > 30  # the walk found the package
    found = [v for path in sources for v in violations(path.read_text(), str(path))]
    assert found == []


@pytest.mark.xfail(strict=False, reason="the screening pipeline (hireserve/server/screening/) "
                                        "replaces these files and switches them to the API")
@pytest.mark.parametrize("rel", SCREENING_PATHS)
def test_the_screening_service_uses_the_engine_api_only(rel: str) -> None:
    path = PACKAGE / rel
    if not path.exists():
        pytest.skip(f"{rel} is gone")
    assert violations(path.read_text(), str(path)) == []
