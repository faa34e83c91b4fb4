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


def _sources() -> list[Path]:
    paths = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not any(rel == d or rel.startswith(d + "/") for d in BELOW_THE_DOOR):
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
    sources = _sources()
    assert len(sources) > 30  # the walk found the package
    # the screening pipeline is checked like everything else
    assert any(p.relative_to(PACKAGE).as_posix() == "server/screening/pipeline.py"
               for p in sources)
    found = [v for path in sources for v in violations(path.read_text(), str(path))]
    assert found == []
