"""Every study runs as ``python -m studies.<name>`` against the installed package: it
imports, answers ``--help``, patches no ``sys.path``, and studies/README.md lists it."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

STUDIES = Path(__file__).resolve().parents[2] / "studies"
SCRIPTS = sorted(p.stem for p in STUDIES.glob("*.py") if p.stem not in ("__init__",))
COMMANDS = [s for s in SCRIPTS if s != "training_probe"]  # the probe is a shared module


def test_the_studies_are_found():
    assert {"campaign_curves", "lever_study", "net_study", "training_probe"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", COMMANDS)
def test_a_study_answers_help(name, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [f"studies.{name}", "--help"])
    study = importlib.import_module(f"studies.{name}")
    with pytest.raises(SystemExit) as stop:
        study.main()
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_study_imports_the_installed_package_only(name):
    tree = ast.parse((STUDIES / f"{name}.py").read_text())
    patched = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    ]
    assert not patched, f"studies/{name}.py touches sys.path at lines {patched}"


def test_the_readme_lists_every_study():
    readme = (STUDIES / "README.md").read_text()
    missing = [s for s in [*SCRIPTS, *(p.stem for p in STUDIES.glob("*.sh"))] if s not in readme]
    assert not missing, f"add to studies/README.md: {missing}"
