"""Held-out losses by noise level and unconditional samples (studies/training_probe.py)."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch

from pianodiff.diffusion.plan import ddim_plan
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.evaluation.reference_loss import average_power_spectrum, wiener_eps
from pianodiff.nets import DiffWave
from studies.training_probe import (
    held_out_crops,
    losses_by_noise_level,
    mean_measures,
    unconditional,
)

SCHEDULE = linear_schedule(num_steps=20, beta_start=1e-4, beta_end=0.2)


class WienerNet(torch.nn.Module):
    """An "ε-network" that is the Wiener filter itself."""

    def __init__(self, spectrum: torch.Tensor):
        super().__init__()
        self.spectrum = spectrum

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = SCHEDULE.alpha_bar[t.long()]
        return wiener_eps(x_t, ab, self.spectrum)


def test_held_out_crops_start_every_eighth_of_each_file(audio_folder):
    crops = held_out_crops(audio_folder, count=100, seconds=0.5)
    lengths = [sf.info(f).frames for f in sorted(audio_folder.glob("*.wav"))]
    expected = sum(len(range(0, n - 11025, n // 8)) for n in lengths)
    assert crops.shape == (expected, 11025)
    first = sorted(audio_folder.glob("*.wav"))[0]
    audio, _ = sf.read(first, dtype="float32")
    step = len(audio) // 8
    assert torch.allclose(crops[1], torch.from_numpy(audio[step : step + 11025]), atol=1e-4)
    assert held_out_crops(audio_folder, count=5, seconds=0.5).shape[0] == 5
    with pytest.raises(ValueError, match="no audio longer"):
        held_out_crops(audio_folder, seconds=60.0)


def test_the_wiener_filter_scores_ratio_one_in_every_range(audio_folder):
    crops = held_out_crops(audio_folder, count=8, seconds=0.5).double()
    spectrum = average_power_spectrum([crops])
    scores = losses_by_noise_level(crops, SCHEDULE, spectrum, WienerNet(spectrum), ranges=4)
    ratios = {k: v for k, v in scores.items() if k.startswith("ratio")}
    assert set(ratios) == {
        "ratio",
        "ratio_t000-004",
        "ratio_t005-009",
        "ratio_t010-014",
        "ratio_t015-019",
    }
    for key, value in ratios.items():
        assert value == pytest.approx(1.0, abs=1e-6), key
    # The noisy end is easier for the filter than the clean end.
    assert scores["wiener_t015-019"] < scores["wiener_t000-004"]


def test_unconditional_sample_has_the_requested_length():
    net = DiffWave(residual_layers=2, residual_channels=4, dilation_cycle=2).eval()
    audio = unconditional(net, ddim_plan(SCHEDULE, 4), seconds=0.1, seed=0)
    assert audio.shape == (2205,)
    assert torch.isfinite(audio).all()


def test_mean_measures_averages_the_keys_every_row_has():
    rows = [
        {"tonality": 0.1, "onset_rate": 2.0, "note_frames": 0.8},
        {"tonality": 0.3, "onset_rate": 4.0},
    ]
    assert mean_measures(rows) == pytest.approx({"tonality": 0.2, "onset_rate": 3.0})
    assert mean_measures([]) == {}
