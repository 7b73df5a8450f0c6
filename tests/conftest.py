"""Shared test set-up: offline W&B, one thread (CI has 2 cores), tiny real audio files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from pianodiff.core import known_warnings

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(1)

SR = 22050


def tone(seconds: float, freqs=(220.0, 330.0), sr: int = SR, decay: float = 1.5) -> np.ndarray:
    """A decaying piano-like chord (float32, mono), a stand-in for real piano in tests."""
    t = np.arange(int(seconds * sr)) / sr
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) * np.exp(-decay * (t % 1.0))
    return (0.3 * wave / len(freqs)).astype(np.float32)


def pytest_configure(config):
    """The package's own filters for library warnings that do not apply to it, as pytest
    filters: pytest resets the warning filters around collection and every test phase
    (fixtures included), which drops those ``pianodiff.core.known_warnings`` adds at import."""
    for message in known_warnings.IGNORED_MESSAGES:
        assert ":" not in message  # pytest's "action:message" syntax
        config.addinivalue_line("filterwarnings", f"ignore:{message}")


@pytest.fixture(autouse=True)
def _isolated_wandb(tmp_path, monkeypatch):
    """Keep every W&B artefact of a test inside its tmp_path, never ~ or the repo."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("PIANODIFF_CACHE_DIR", str(tmp_path / "pianodiff-cache"))  # bf16 verdicts
    (tmp_path / "wandb-dir").mkdir()


@pytest.fixture
def audio_folder(tmp_path) -> Path:
    """A folder of four short real WAV files (1.5 s each, different chords)."""
    folder = tmp_path / "audio"
    folder.mkdir()
    chords = [(220.0, 277.2), (261.6, 329.6), (196.0, 246.9), (293.7, 370.0)]
    for i, freqs in enumerate(chords):
        sf.write(folder / f"piece{i}.wav", tone(1.5, freqs), SR, subtype="PCM_16")
    return folder


def smoke_train_overrides(root: Path, audio_folder: Path, *extra: str) -> list[str]:
    """Hydra overrides that shrink the shipped ``experiment=smoke`` onto ``audio_folder``,
    with outputs under ``root``; ``extra`` overrides follow (and win)."""
    return [
        "experiment=smoke",
        "data=folder",
        f"data.root={audio_folder}",
        "data.segment_seconds=0.1",
        "data.batch_size=2",
        f"paths.output_dir={root / 'outputs'}",
        *extra,
    ]


@pytest.fixture
def smoke_overrides(tmp_path, audio_folder):
    """``smoke_train_overrides`` bound to this test's tmp_path and audio folder."""

    def make(*extra: str) -> list[str]:
        return smoke_train_overrides(tmp_path, audio_folder, *extra)

    return make


def pytest_collection_modifyitems(config, items):
    """Tests marked ``system_parts`` with parts missing here skip, naming them and the fix."""
    from system_parts import skip_reason

    required = os.environ.get("PIANODIFF_REQUIRE_SYSTEM_PARTS") == "1"  # CI's full world
    for item in items:
        for mark in item.iter_markers("system_parts"):
            missing = mark.kwargs.get("missing") or []
            if missing and required:
                raise pytest.UsageError(f"{item.nodeid}: {skip_reason(missing)}")
            if missing:
                item.add_marker(pytest.mark.skip(reason=skip_reason(missing)))
