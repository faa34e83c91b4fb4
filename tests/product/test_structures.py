"""docs/structures.md lists every module of the package, each with the first paragraph of its
docstring: regenerate it with `python tests/product/test_structures.py` when this fails."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "structures.md"
PACKAGES = ("hireserve/clients", "hireserve/scheduler", "hireserve/server")


def modules() -> dict[str, list[tuple[str, str]]]:
    """folder -> [(module file name, first docstring paragraph)], folders and files sorted."""
    out: dict[str, list[tuple[str, str]]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__init__.py" or "__pycache__" in path.parts:
                continue
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            first = " ".join(doc.split("\n\n")[0].split())
            folder = path.parent.relative_to(ROOT).as_posix()
            out.setdefault(folder, []).append((path.name, first))
    return dict(sorted(out.items()))


def render_modules() -> str:
    parts = []
    for folder, files in modules().items():
        rows = "\n".join(f"- `{name}`: {first}" for name, first in files)
        parts.append(f"## `{folder}/`\n\n{rows}\n")
    return "\n".join(parts)


def page_modules_part() -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text[text.index("## `hireserve/"):]


def test_every_module_is_listed_with_its_docstring() -> None:
    assert page_modules_part().strip() == render_modules().strip(), (
        "docs/structures.md is stale: python tests/product/test_structures.py")


def test_every_module_has_a_docstring() -> None:
    missing = [f"{folder}/{name}" for folder, files in modules().items()
               for name, first in files if not first]
    assert not missing


if __name__ == "__main__":  # regenerate the page's module list in place
    head = PAGE.read_text(encoding="utf-8")
    head = head[: head.index("## `hireserve/")]
    PAGE.write_text(head + render_modules(), encoding="utf-8")
    sys.exit(0)
