"""The listener's measures where training logs them: the demo callback and the probe."""

from __future__ import annotations

import csv
import importlib.util
import logging

import pytest
import torch
from conftest import tone

from pianodiff.measures import notes
from pianodiff.measures.listening import sample_measures
from pianodiff.training.run import compose_train_config, train

NOTES_ON = notes.unavailable_reason() is None


def test_demo_callback_logs_the_sample_measures(tmp_path, smoke_overrides):
    cfg = compose_train_config(
        smoke_overrides(
            "trainer.max_steps=2",
            "trainer.val_check_interval=2",
            "logger=csv",
            "callbacks.demo_sampling.every_n_steps=2",
            "callbacks.demo_sampling.seconds=0.5",
        )
    )
    run = train(cfg)["run_dir"]
    with open(run / "csv" / "metrics.csv", newline="") as fh:
        demo = [r for r in csv.DictReader(fh) if r.get("demo/tonality")]
    assert len(demo) == 1 and demo[0]["step"] == "2"
    assert 0.0 <= float(demo[0]["demo/tonality"]) <= 1.0
    assert float(demo[0]["demo/onset_rate"]) >= 0.0
    if NOTES_ON:  # the smoke net's two steps make noise: the transcriber hears no notes
        assert 0.0 <= float(demo[0]["demo/note_frames"]) <= 0.1
        assert float(demo[0]["demo/notes_per_s"]) >= 0.0
    else:
        assert "demo/note_frames" not in demo[0]


@pytest.mark.skipif(not NOTES_ON, reason="the notes extra is not installed (make notes)")
def test_probe_measures_include_the_transcriber():
    chord = sample_measures(torch.from_numpy(tone(3.0)))
    assert set(chord) == {"tonality", "onset_rate", "note_frames", "notes_per_s"}
    assert chord["note_frames"] > 0.6 and chord["tonality"] < 0.1
    noise = sample_measures(
        0.1 * torch.randn(3 * 22050, generator=torch.Generator().manual_seed(0))
    )
    assert noise["note_frames"] < chord["note_frames"] and noise["tonality"] > chord["tonality"]


def test_probe_without_the_extra_says_so_once_and_goes_on(monkeypatch, caplog):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "basic_pitch" else real(name)
    )
    notes._say_off.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            first = sample_measures(torch.from_numpy(tone(1.0)))
            sample_measures(torch.from_numpy(tone(1.0)))
    finally:
        notes._say_off.cache_clear()
    assert set(first) == {"tonality", "onset_rate"}
    off = [r.getMessage() for r in caplog.records if "note measure off" in r.getMessage()]
    assert len(off) == 1 and "make notes" in off[0]
