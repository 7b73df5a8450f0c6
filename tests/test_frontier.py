"""The sampler frontier (evaluation/frontier.py, benchmarks/frontier.py) on a tiny export:
points of every shipped sampler, judged rows, a summary, a plot, and a resumable run."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf
from test_generate import make_export

from benchmarks import frontier as bench
from pianodiff.api import Generator
from pianodiff.conf import group_choices
from pianodiff.evaluation.frontier import (
    Family,
    completed,
    default_families,
    markdown,
    points,
    run_point,
    summarise,
)
from pianodiff.generation.configs import load_group_config
from pianodiff.generation.errors import GenerationError
from pianodiff.measures.notes import unavailable_reason

needs_notes = pytest.mark.skipif(unavailable_reason() is not None, reason="make notes")


def test_every_shipped_sampler_is_on_the_frontier():
    """Each conf/sampler option is a family's sampler, or one of the families' points as
    shipped (the presets' samplers: dpmpp_2m_sde at 9 and 20 steps)."""
    families = default_families((5, 9, 10, 20, 60))
    grid = points(families, max_steps=50)
    on_grid = [OmegaConf.to_container(load_group_config("sampler", p.sampler, **p.params))
               for p in grid]  # fmt: skip
    for name in group_choices("sampler"):
        shipped = OmegaConf.to_container(load_group_config("sampler", name))
        assert name in {f.sampler for f in families} or shipped in on_grid, name
    labels = [p.label for p in grid]
    assert "ddpm" in labels and "ddim η=1, 10 steps" in labels
    assert not any(label.endswith("60 steps") for label in labels)  # above T: dropped


def test_an_unknown_sampler_fails_in_one_line():
    with pytest.raises(GenerationError, match="unknown sampler 'ddimm'"):
        points([Family("x", "ddimm")])


@needs_notes
def test_points_are_judged_summarised_drawn_and_resumed(tmp_path):
    export = make_export(tmp_path / "tiny")  # T = 8
    gen = Generator.from_checkpoint(export, device="cpu")
    grid = points([Family("ddim η=1", "ddim", {"eta": 1.0}, (2, 4))], max_steps=8)
    rows = [run_point(gen, p, seed, 0.5) for p in grid for seed in (0, 1)]
    for row in rows:
        assert row["seconds"] == pytest.approx(5.5)  # a 5 s base window and 0.5 s more
        assert row["calls_per_window"] == row["steps"]
        assert row["harmony"] == 0.0  # the sampler alone: harmony guidance off
        assert 0.0 <= row["note_frames"] <= 1.0 and math.isfinite(row["hiss_db"])
        assert len(row["seam_scores"].split(";")) == 1  # one extension window, one seam
    assert completed(rows) == {(p.label, s, False) for p in grid for s in (0, 1)}
    summary = summarise(rows)
    assert [s["calls_per_window"] for s in summary] == [2.0, 4.0]
    assert all(s["seeds"] == 2 for s in summary)
    table = markdown(summary, "# title")
    assert "| ddim η=1, 4 steps | fp32 | 4 |" in table


@needs_notes
def test_the_benchmark_resumes_and_redraws(tmp_path):
    export = make_export(tmp_path / "tiny")
    out = tmp_path / "out"
    args = ["--checkpoint", str(export), "--out", str(out), "--seconds", "0.5"]
    args += ["--families", "ddim η=1", "--steps", "2", "--seeds", "1"]
    assert bench.main(args) == 0
    first = bench.read_rows(out / "rows.csv")
    assert len(first) == 1 and (out / "summary.md").is_file() and (out / "frontier.png").is_file()
    assert bench.main([*args[:-1], "2"]) == 0  # a second seed: only it is run
    rows = bench.read_rows(out / "rows.csv")
    assert [r["seed"] for r in rows] == ["0", "1"] and rows[0] == first[0]
    (out / "frontier.png").unlink()
    assert bench.main([*args, "--plot-only"]) == 0 and (out / "frontier.png").is_file()


def _row(point: str, seed: int, note_frames: float, steps: int = 10) -> dict:
    return {
        "point": point, "family": point.split(",")[0], "sampler": "dpmpp_2m_sde",
        "plan": f"dpmpp_2m_sde{steps}", "eta": 1.0, "steps": steps, "seed": seed,
        "seconds": 10.0, "bf16": True, "calls_per_window": float(steps),
        "note_frames": note_frames, "notes_per_s": 3.0, "hiss_db": -50.0, "tonality": 0.2,
        "seam_scores": "1.2;1.4", "wall_s": 9.0,
    }  # fmt: skip


def test_rows_of_several_runs_merge_and_draw_with_an_rtf_axis(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    p10, p20 = "dpmpp_2m_sde η=1, 10 steps", "dpmpp_2m_sde η=1, 20 steps"
    bench.write_rows([_row(p10, 0, 0.6), _row(p10, 1, 0.7)], a / "rows.csv")
    bench.write_rows([_row(p10, 1, 0.1), _row(p20, 0, 0.8, 20)], b / "rows.csv")
    out = tmp_path / "merged"
    rtf = ["--rtf", "0.02", "0.015", "test host, bf16", "--rtf-baseline", "0.3"]
    args = ["--from-rows", str(a / "rows.csv"), str(b / "rows.csv"), "--out", str(out), *rtf]
    assert bench.main(args) == 0
    rows = bench.read_rows(out / "rows.csv")
    # the clip measured twice (p10, seed 1) keeps the first run's row
    assert [(r["point"], r["seed"], r["note_frames"]) for r in rows] == [
        (p10, "0", "0.6"), (p10, "1", "0.7"), (p20, "0", "0.8")
    ]  # fmt: skip
    summary = (out / "summary.md").read_text()
    assert "| dpmpp_2m_sde η=1, 10 steps | bf16 | 10 | 2 | 0.65 (0.60–0.70)" in summary
    assert (out / "frontier.png").stat().st_size > 0
    assert (
        bench.main(["--from-rows", str(tmp_path / "none.csv"), "--out", str(tmp_path / "n")]) == 2
    )
    assert "no rows file" in capsys.readouterr().out and not (tmp_path / "n").exists()
    assert bench.main([*args[:-6], "--rtf", "0", "-1", "x"]) == 2  # a per-call RTF above 0


@needs_notes
def test_harmony_runs_what_a_user_hears_and_never_mixes_with_sampler_rows(tmp_path, capsys):
    export = make_export(tmp_path / "tiny")
    out = tmp_path / "out"
    args = ["--checkpoint", str(export), "--out", str(out), "--seconds", "0.5"]
    args += ["--families", "ddim η=1", "--steps", "2", "--seeds", "1"]
    assert bench.main([*args, "--harmony", "10"]) == 0
    assert [float(r["harmony"]) for r in bench.read_rows(out / "rows.csv")] == [10.0]
    assert "harmony guidance 10" in (out / "summary.md").read_text()
    capsys.readouterr()
    assert bench.main(args) == 2  # harmony 0 into a folder of harmony-10 rows: refused
    assert "holds rows with harmony 10, not 0; give another --out" in capsys.readouterr().out
    assert len(bench.read_rows(out / "rows.csv")) == 1


def test_a_family_runs_with_other_settings_and_a_bad_setting_is_one_line(tmp_path, capsys):
    export = make_export(tmp_path / "tiny")  # T = 8
    out = tmp_path / "out"
    args = ["--checkpoint", str(export), "--out", str(out), "--seconds", "0.5", "--seeds", "1"]
    args += ["--families", "dpmpp_2m_sde η=1 ρ=0.6 lof", "--steps", "4"]
    for bad, says in [
        ("rho", "--set takes KEY=VALUE (e.g. rho=0.5), got 'rho'"),
        ("rhoo=1", "Key 'rhoo' is not in struct"),
        ("rho=5", "ddim rho=5 puts two of 4 levels on one training step"),
    ]:
        assert bench.main([*args, "--set", bad]) == 2
        printed = capsys.readouterr().out
        assert says in printed and len(printed.strip().splitlines()) == 1, printed
    assert not (out / "rows.csv").exists()
    if unavailable_reason() is None:
        assert bench.main([*args, "--set", "rho=0.5", "--set", "lower_order_final=false"]) == 0
        (row,) = bench.read_rows(out / "rows.csv")
        label = "dpmpp_2m_sde η=1 ρ=0.6 lof [rho=0.5, lower_order_final=False], 4 steps"
        assert row["point"] == label and row["calls_per_window"] == "4.0"
