"""studies/campaign_curves.py: legs joined into one campaign (resumes and warm starts), the
loss ratio it plots, and its one-line refusal of a missing leg."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from studies import campaign_curves

COLUMNS = ["step", "train/cpu_seconds", "train/loss", "val/ref_model", "val/ref_wiener",
           "demo/tonality", "demo/note_frames"]  # fmt: skip


@pytest.fixture(scope="module")
def curves():
    return vars(campaign_curves)


def write_leg(path: Path, steps: range, cpu_per_step: float, val_every: int) -> Path:
    """A CSV-logger file as Lightning writes it: train rows, then validation rows of their
    own (no CPU count) every ``val_every`` steps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for step in steps:
            writer.writerow({"step": step, "train/cpu_seconds": step * cpu_per_step,
                             "train/loss": 0.2})  # fmt: skip
            if step % val_every == 0:
                writer.writerow({"step": step, "val/ref_model": 0.25, "val/ref_wiener": 0.3})
    return path


def test_resume_and_warm_start_join_into_cumulative_counts(curves, tmp_path):
    first = write_leg(tmp_path / "a.csv", range(0, 1000, 100), 2.0, 500)
    # resumed from a checkpoint at step 800: the first leg's rows from 800 on are replaced
    resumed = write_leg(tmp_path / "b.csv", range(800, 1500, 100), 2.0, 500)
    # warm start: counts restart at 0 and are added to the resumed leg's last ones
    warm = write_leg(tmp_path / "c.csv", range(0, 300, 100), 3.0, 100)
    campaign = curves["join_legs"]([curves["read_leg"](p) for p in (first, resumed, warm)])
    steps = [row["step"] for row in campaign]
    assert steps == sorted(steps), "overlapping rows of the first leg were not dropped"
    train = [r for r in campaign if "train/loss" in r]
    assert [r["step"] for r in train][-4:] == [1400, 1400, 1500, 1600]
    assert train[-1]["train/cpu_seconds"] == pytest.approx(1400 * 2.0 + 200 * 3.0)
    ratio = curves["wiener_ratio"](campaign)
    # validations at 0, 500 (first leg), 1000 (resumed) and 0, 100, 200 of the warm start
    assert len(ratio.values) == 6
    assert ratio.values == pytest.approx([0.25 / 0.3] * 6)
    assert ratio.hours[-1] == pytest.approx((1400 * 2.0 + 200 * 3.0) / 3600)


def test_unconditional_means_of_a_harness_table(curves, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text(
        "task,tonality,note_frames\nunconditional,0.3,0.2\nunconditional,0.5,0.4\nextend,0.9,0.9\n"
    )
    means = curves["unconditional_means"](results)
    assert means == pytest.approx({"tonality": 0.4, "note_frames": 0.3})


def test_main_writes_the_figure(curves, tmp_path, capsys):
    leg = write_leg(tmp_path / "leg.csv", range(0, 600, 100), 2.0, 200)
    out = tmp_path / "img" / "curves.png"
    assert curves["main"](["--legs", str(leg), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.parent.glob("*.partial.png"))
    assert "1 legs: 500 steps, 0.28 CPU-hours" in capsys.readouterr().out


def test_a_missing_leg_is_one_line_and_writes_nothing(curves, tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert curves["main"](["--legs", str(tmp_path / "nope.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope.csv" in err and "logger=csv" in err
    assert not out.exists()


def test_judged_checkpoints_give_mean_and_standard_error_per_branch(curves, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text(
        "task,tonality,note_frames\nunconditional,0.3,0.2\nunconditional,0.5,0.4\n"
        "unconditional,0.4,0.6\nextend,0.9,0.9\n"
    )
    mean, error = curves["mean_and_standard_error"](
        curves["unconditional_values"](results)["note_frames"]
    )
    assert mean == pytest.approx(0.4) and error == pytest.approx(0.2 / 3**0.5)
    judged = curves["parse_judged"](f"leg 9@5.65={results}")
    assert (judged.branch, judged.hours, judged.results) == ("leg 9", 5.65, results)
    with pytest.raises(ValueError, match="BRANCH@HOURS=results.csv"):
        curves["parse_judged"]("5.65=results.csv")
    leg = write_leg(tmp_path / "leg.csv", range(0, 600, 100), 2.0, 200)
    out = tmp_path / "curves.png"
    args = ["--legs", str(leg), "--judged", f"a@0.1={results}", f"a@0.2={results}",
            f"b@0.2={results}", "--out", str(out)]  # fmt: skip
    assert curves["main"](args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
