"""The import rules of docs/architecture.md, checked over every module of src/pianodiff.

A module may import its own room and rooms of a lower rank only. The table of rooms is
read from docs/architecture.md, so the page and this test cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import pianodiff

PACKAGE = Path(pianodiff.__file__).resolve().parent
PAGE = PACKAGE.parents[1] / "docs" / "architecture.md"
ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(\w+)\s*\|(.*)\|\s*$")


def rooms() -> dict[str, tuple[str, int]]:
    """member (top-level module or package of pianodiff) -> (room, rank), from the page."""
    text = PAGE.read_text()
    table = text.split("<!-- rooms:", 1)[1].split("<!-- /rooms -->", 1)[0]
    out: dict[str, tuple[str, int]] = {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            rank, room, members = int(match[1]), match[2], match[3]
            for member in re.findall(r"`([\w]+)`", members):
                out[member] = (room, rank)
    return out


def member_of(path: Path) -> str:
    """The top-level member of pianodiff a source file belongs to."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py")


DOTTED = re.compile(r"^pianodiff\.(\w+)(\.\w+)*$")


def imported_members(tree: ast.AST) -> set[str]:
    """Top-level pianodiff members a module imports (anywhere in it, lazily or not) or
    names in a dotted string such as ``"pianodiff.history"`` (an import by string)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = DOTTED.match(node.value)
            if match:
                found.add(match[1])
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "pianodiff":  # from pianodiff.core import audio / SAMPLE_RATE
                names = [f"pianodiff.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "pianodiff":
                found.add(parts[1] if len(parts) > 1 else "__init__")
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_room():
    table = rooms()
    missing = sorted({member_of(p) for p in SOURCES} - set(table))
    assert not missing, f"add these to the rooms table of docs/architecture.md: {missing}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up(path):
    table = rooms()
    room, rank = table[member_of(path)]
    tree = ast.parse(path.read_text(), filename=str(path))
    wrong = []
    for target in sorted(imported_members(tree)):
        if target not in table:  # a name of pianodiff/__init__.py, e.g. SAMPLE_RATE
            target = "__init__"
        other, other_rank = table[target]
        if other != room and other_rank >= rank:
            wrong.append(f"{target} ({other}, rank {other_rank})")
    assert not wrong, f"{room} (rank {rank}) must not import: {', '.join(wrong)}"


def test_the_rule_catches_an_import_running_back_up():
    tree = ast.parse("from pianodiff.generation.engine import WindowedGenerator\n")
    assert imported_members(tree) == {"generation"}
    by_string = ast.parse('importlib.import_module("pianodiff.tracking.generate_run")\n')
    assert imported_members(by_string) == {"tracking"}
    table = rooms()
    assert table["generation"][1] > table["measures"][1]
    assert table["generation"][1] > table["diffusion"][1]
