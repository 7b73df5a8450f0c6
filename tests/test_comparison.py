"""The multirun comparison: a real `generate -m` with the Hydra callback added by override."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from test_generate import config
from test_history import tiny_export
from test_wandb import records_by_kind

from pianodiff.generation.run import run_generation
from pianodiff.history.panel import gif_frame
from pianodiff.tracking.comparison import TABLE_COLUMNS, compare_runs, extension_frame
from pianodiff.tracking.generate_run import sweep_group, write_job_record


def test_compare_runs_on_an_empty_sweep_writes_nothing(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    rows, panel = compare_runs(sweep)
    assert rows == [] and panel is None
    assert list(sweep.iterdir()) == []


@pytest.mark.slow
def test_two_extender_multirun_lands_in_one_group_with_a_table_and_a_panel(tmp_path):
    ckpt = tiny_export(tmp_path / "ckpt")
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable, "-m", "pianodiff.generate", "-m",
        "extender=replacement,interpolation", "history=true", "wandb.enabled=true",
        f"checkpoint={ckpt}", "seconds=0.5", "sampler=ddim", "sampler.num_steps=3",
        "geometry.window_seconds=0.5", "geometry.context_seconds=0.1", "progress=false",
        "output=${hydra:runtime.output_dir}/piece.wav", f"hydra.sweep.dir={sweep}",
        "++hydra.callbacks.compare._target_=pianodiff.tracking.comparison.CompareExtenders",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]

    rows = json.loads((sweep / "comparison.json").read_text())
    assert [r["extender"] for r in rows] == ["replacement", "interpolation"]
    assert all(r["nfe"] == 9 and r["history_gif"] for r in rows)  # (base + 2 windows) x 3
    for r in rows:  # the panel's frame: the middle of the first extension window's walk
        record = json.loads((sweep / r["job"] / "generation.json").read_text())
        ext = next(w for w in record["history_windows"] if w["kind"] == "extend")
        assert ext["frames"][0] <= r["history_frame"] <= ext["frames"][1]
    with Image.open(sweep / "comparison.png") as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]  # side by side

    (table_run,) = (sweep / "wandb").glob("offline-run-*")
    (table_file,) = (table_run / "files" / "media" / "table").glob("comparison_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"] == TABLE_COLUMNS
    assert [row[0] for row in table["data"]] == ["replacement", "interpolation"]
    col = {c: i for i, c in enumerate(TABLE_COLUMNS)}
    assert [row[col["nfe"]] for row in table["data"]] == [9, 9]
    assert all(row[col["audio"]] == "Audio" and row[col["animation"]] == "Video"
               for row in table["data"])  # fmt: skip

    # The comparison run and both jobs' runs share the sweep's group.
    job_runs = sorted(sweep.glob("[0-9]/wandb/offline-run-*"))
    assert len(job_runs) == 2
    groups = {records_by_kind(d)["run"][0].run.run_group for d in [table_run, *job_runs]}
    assert groups == {sweep_group(sweep)}


def _green_pixels(image) -> int:
    """Pixels of the renderer's known-region colour (matplotlib's C2, #2ca02c)."""
    rgb = np.asarray(image, dtype=np.int32)
    return int((np.abs(rgb - np.array([44, 160, 44])).sum(axis=-1) < 40).sum())


def test_panel_frame_comes_from_an_extension_window_with_its_known_region(tmp_path):
    """The base window is the same plain walk for every extender: the panel shows the first
    extension window instead, where the known region (green) is what extenders treat
    differently."""
    ckpt = tiny_export(tmp_path / "ckpt")
    job = tmp_path / "sweep" / "0"
    cfg = config(f"checkpoint={ckpt}", "history=true", "seconds=0.5", f"output={job / 'piece.wav'}")
    result = run_generation(cfg)
    windows = result.meta["history_windows"]
    assert [w["kind"] for w in windows] == ["base", "extend", "extend"]
    frame, caption = extension_frame(windows)
    first, last = windows[1]["frames"]
    assert first <= frame <= last and caption == "extend window 2/3, mid-walk"
    gif = result.meta["history_files"][0]
    assert _green_pixels(gif_frame(gif, index=frame)) > 500
    assert _green_pixels(gif_frame(gif, index=windows[0]["frames"][1])) == 0  # base: none

    write_job_record(result.meta, job, {"job_dir": str(job)})  # as a multirun job leaves it
    rows, panel = compare_runs(tmp_path / "sweep")
    assert rows[0]["history_frame"] == frame and rows[0]["history_gif"] == gif
    with Image.open(panel) as im:
        assert _green_pixels(im.convert("RGB")) > 100  # the shown frame carries the band
