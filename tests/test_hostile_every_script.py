"""Every script of ``scripts/`` and ``studies/`` given a hostile export, a hostile
checkpoint or a path that does not exist where it takes a path: a non-zero exit, one
``error:`` line, no traceback, nothing written where it was told to write, and no payload
run. A new script must be added to ``COMMANDS`` (or to ``NO_PATH``, saying why).

Each runs in-process as ``python scripts/<x>.py`` / ``python -m studies.<x>`` would run it
(``runpy`` with ``__main__`` and its ``sys.argv``): an exception escaping it is the
traceback a user would see, so the test fails with it.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
from hostile import bomb_checkpoint, evil_checkpoint, evil_export, victim_file

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("scripts", "studies")

# script -> its arguments; {path} is the hostile or missing input, {out} a fresh folder.
COMMANDS: dict[str, list[str]] = {
    "scripts/export_checkpoint.py": ["{path}", "{out}/export"],
    "scripts/write_model_card.py": ["{path}"],
    "studies/campaign_curves.py": ["--legs", "{path}", "--out", "{out}/curves.png"],
    "studies/compare_runs.py": ["--run", "a={path}", "--out", "{out}/runs.png"],
    "studies/continuation_picture.py": ["draw", "{path}", "--out", "{out}/picture.png"],
    "studies/lever_study.py": ["launch", "--init", "{path}", "--root", "{out}/levers"],
    "studies/net_study.py": ["a={path}", "--out", "{out}/table.md"],
    "studies/restart_student.py": ["pairs", "--checkpoint", "{path}", "--out", "{out}/pairs"],
    "studies/spectrogram_panel.py": ["a={path}", "--out", "{out}/panel.png"],
    "studies/training_report.py": ["--run", "{path}", "--export", "{path}", "--out", "{out}"],
}
NO_PATH = {
    "studies/__init__.py": "the package marker",
    "studies/training_probe.py": "a module of helpers for the studies, no command line",
    "studies/solver_study.py": "reads only the bundled model, takes no path",
}
EXPORT_KINDS = ("alias_bomb", "huge_channels", "open_write")


def every_script() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for f in FOLDERS for p in (ROOT / f).glob("*.py"))


def test_every_script_is_covered():
    assert set(COMMANDS) | set(NO_PATH) == set(every_script())


def run_script(script: str, args: list[str], monkeypatch) -> int:
    """Exit status of the script run as its ``__main__``; an escaping exception fails."""
    monkeypatch.setattr(sys, "argv", [script, *args])
    monkeypatch.chdir(ROOT)  # studies import each other as the studies package
    try:
        if script.startswith("studies/"):
            module = script.removesuffix(".py").replace("/", ".")
            monkeypatch.delitem(sys.modules, module, raising=False)  # imported by another study
            runpy.run_module(module, run_name="__main__")
        else:
            runpy.run_path(str(ROOT / script), run_name="__main__")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


def hostile_input(kind: str, tmp_path: Path) -> Path:
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    if kind == "missing":
        return tmp_path / "nowhere"
    if kind == "pickle":
        return evil_checkpoint(tmp_path / "evil.ckpt", marker, "zip")
    if kind == "pickle_bomb":
        return bomb_checkpoint(tmp_path / "bomb.ckpt")
    return evil_export(tmp_path / "export", kind, marker, victim)


@pytest.mark.parametrize("kind", ["missing", *EXPORT_KINDS, "pickle", "pickle_bomb"])
@pytest.mark.parametrize("script", sorted(COMMANDS))
def test_a_hostile_or_missing_input_is_one_line(script, kind, tmp_path, monkeypatch, capsys):
    path = hostile_input(kind, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(path=path, out=out) for a in COMMANDS[script]]
    capsys.readouterr()
    code = run_script(script, args, monkeypatch)
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code != 0, (code, lines)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # nothing written where it was told to write
    assert not (tmp_path / "marker").exists()
    assert (tmp_path / "victim.txt").read_text() == "precious\n"
