"""What the documents promise stays true: every test SECURITY.md and the README name exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# `tests/x/test_y.py::test_z`, and the `::test_w` shorthand after it in the same cell.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)?)`(?:,\s*`(::\w+)`)*")
SHORTHAND = re.compile(r"`(tests/[\w/]+\.py)::\w+`((?:,\s*`::\w+`)+)")


def _references(document: str) -> set[tuple[str, str]]:
    return _references_in((ROOT / document).read_text(encoding="utf-8"))


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("document", ["SECURITY.md", "README.md"])
def test_every_test_a_document_names_exists(document: str) -> None:
    missing = []
    for file, name in sorted(_references(document)):
        path = ROOT / file
        if not path.is_file() or (name and name not in _test_names(path)):
            missing.append(f"{file}::{name}" if name else file)
    assert missing == []


def test_the_reference_reader_finds_shorthand_names() -> None:
    found = {("tests/a.py", "test_x"), ("tests/a.py", "test_y")}
    assert found <= _references_in("`tests/a.py::test_x`, `::test_y`")


def _references_in(text: str) -> set[tuple[str, str]]:
    found = {(m.group(1), m.group(2).lstrip(":")) for m in REFERENCE.finditer(text)}
    for m in SHORTHAND.finditer(text):
        found.update((m.group(1), name) for name in re.findall(r"::(\w+)", m.group(2)))
    return found
