"""The benchmark report: gathered rows, honest gaps, files written (no timings asserted)."""

from __future__ import annotations

import json
import sys
import types

from benchmarks import run
from benchmarks.forward import native_bf16, relative_error


def test_missing_module_is_reported_never_faked(monkeypatch):
    monkeypatch.setattr(run, "MODULES", (("ghost", "benchmarks.no_such_bench"),))
    rows, notes = run.gather(quick=True)
    assert rows == []
    assert notes == ["ghost: benchmarks.no_such_bench not available yet"]


def test_failing_module_is_reported_with_its_error(monkeypatch):
    broken = types.ModuleType("benchmarks.broken_bench")

    def main(quick):
        raise RuntimeError("no model")

    broken.main = main
    monkeypatch.setitem(sys.modules, "benchmarks.broken_bench", broken)
    monkeypatch.setattr(run, "MODULES", (("broken", "benchmarks.broken_bench"),))
    rows, notes = run.gather(quick=True)
    assert rows == [] and "failed: RuntimeError: no model" in notes[0]


def test_report_files_hold_every_row(monkeypatch, tmp_path):
    fake = types.ModuleType("benchmarks.fake_bench")
    fake.main = lambda quick: [
        {"name": "thing/fast", "value": 2.0, "baseline": 4.0, "ratio": 2.0, "unit": "s"}
    ]
    monkeypatch.setitem(sys.modules, "benchmarks.fake_bench", fake)
    monkeypatch.setattr(
        run, "MODULES", (("fake", "benchmarks.fake_bench"), ("ghost", "benchmarks.nope_bench"))
    )
    assert run.main(["--quick", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "| fake | thing/fast | 2 | 4 | 2 | s | – |" in report
    assert "ghost: benchmarks.nope_bench not available yet" in report
    assert "CPU cores" in report  # the machine is named
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["quick"] is True and data["rows"][0]["ratio"] == 2.0


def test_forward_helpers():
    assert isinstance(native_bf16(), bool)
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert abs(relative_error([1.1, 0.0], [1.0, 0.0]) - 0.1) < 1e-12


def test_generation_cost_follows_generate_defaults():
    """Hardware-free rows (no timing): every shipped extender, and the default's saving."""
    from benchmarks.generation_cost import DEFAULT, cost_rows

    rows = {r["name"]: r for r in cost_rows()}
    assert DEFAULT == ("interpolation", "dpmpp_2m_sde")
    default = rows["gen/nas_per_s/interpolation+dpmpp_2m_sde10"]
    assert default["value"] == 12.5 and default["baseline"] / default["value"] >= 50
    assert "gen/nfe_per_window/conditioned+fast6" in rows


def test_only_runs_the_named_sections_and_refuses_an_unknown_one(monkeypatch, tmp_path, capsys):
    ran = []
    for name in ("one", "two"):
        fake = types.ModuleType(f"benchmarks.{name}_bench")
        fake.main = lambda quick, name=name: ran.append(name) or []
        monkeypatch.setitem(sys.modules, f"benchmarks.{name}_bench", fake)
    monkeypatch.setattr(
        run, "MODULES", (("one", "benchmarks.one_bench"), ("two", "benchmarks.two_bench"))
    )
    assert run.main(["--quick", "--only", "two", "--out", str(tmp_path)]) == 0
    assert ran == ["two"]
    assert "--only two" in (tmp_path / "report.md").read_text()  # the command is named
    assert run.main(["--only", "tow", "--out", str(tmp_path / "x")]) == 2
    assert "no section 'tow'; choose from: one, two" in capsys.readouterr().out
    assert not (tmp_path / "x").exists()  # nothing written
