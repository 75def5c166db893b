"""Imports flow one way: zhtext <- app <- ingest, with app/main.py (the composition root) the one
module of ``app`` that imports ``ingest``.

Every .py file under app/, ingest/ and zhtext/ is parsed (not imported) and its runtime imports are
collected: module-level and function-level ``import``/``from … import``, but not those under
``if TYPE_CHECKING:``, which only type checkers run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "ingest", "zhtext")
COMPOSITION_ROOT = "app/main.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(path: Path, root: Path = ROOT) -> set[str]:
    """Top-level package names ``path`` imports when it runs (a relative import names its own package)."""
    package = path.relative_to(root).parts[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # the else branch runs
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(package)
            elif node.module:
                found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


def _files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return files


def _importers(package: str, of: str) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in _files(package) if of in runtime_imports(p)]


def test_app_imports_ingest_only_in_the_composition_root():
    assert _importers("app", "ingest") == [COMPOSITION_ROOT]


def test_zhtext_imports_neither_app_nor_ingest():
    assert _importers("zhtext", "app") == []
    assert _importers("zhtext", "ingest") == []


def test_the_walker_sees_function_level_imports_and_skips_type_checking_blocks(tmp_path):
    sample = tmp_path / "app" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ingest.pipeline import IngestService\n"
        "def restore():\n    from ingest.pipeline import build_ingest_service\n",
        encoding="utf-8")
    assert runtime_imports(sample, tmp_path) == {"typing", "ingest"}
    sample.write_text("import typing\nif typing.TYPE_CHECKING:\n    import ingest\nfrom . import x\n", encoding="utf-8")
    assert runtime_imports(sample, tmp_path) == {"typing", "app"}
