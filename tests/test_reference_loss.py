"""Reference losses (predict-zero, Wiener filter) on a tiny set of real audio files."""

from __future__ import annotations

import math

import torch

from pianodiff.core.audio import read_audio
from pianodiff.diffusion.process import q_sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.evaluation.reference_loss import (
    PREDICT_ZERO_L1,
    average_power_spectrum,
    held_out_losses,
    reference_losses,
    wiener_eps,
)
from pianodiff.nets import DiffWave


def crops_of(paths, length: int = 8192) -> torch.Tensor:
    waves = [read_audio(p) for p in paths]
    return torch.stack(
        [w[i : i + length] for w in waves for i in (0, 4096) if len(w) >= i + length]
    )


def test_reference_losses_on_a_tiny_set(audio_folder):
    files = sorted(audio_folder.glob("*.wav"))
    train, held_out = crops_of(files[:3]), crops_of(files[3:])
    schedule = linear_schedule(50, 1e-4, 0.05)
    spectrum = average_power_spectrum([train])
    losses = held_out_losses(held_out, schedule, spectrum, repeats=16)
    # predict zero: L1 on ε ≈ E|ε| = √(2/π) ≈ 0.798 (16 384·32 draws: ±0.005)
    assert abs(losses["zero"] - PREDICT_ZERO_L1) < 0.01
    assert losses["wiener"] <= losses["zero"]
    # tonal audio is far from white: the filter does much better than zero
    assert losses["wiener"] < 0.5 * losses["zero"]


def test_psd_units_and_white_noise_wiener_matches_theory():
    gen = torch.Generator().manual_seed(0)
    sigma2 = 0.09
    noise = math.sqrt(sigma2) * torch.randn(64, 4096, generator=gen, dtype=torch.float64)
    psd = average_power_spectrum([noise])
    assert abs(float(psd.mean()) - sigma2) < 0.003  # white noise of variance σ² → σ²
    # For white x0 the filter is the scalar s / (ᾱσ² + s²); its MSE is ᾱσ² / (ᾱσ² + s²).
    ab = 0.5
    eps = torch.randn(noise.shape, generator=gen, dtype=torch.float64)
    x_t = q_sample(noise, ab, eps)
    est = wiener_eps(x_t, torch.full((64,), ab), torch.full_like(psd, sigma2))
    scalar = math.sqrt(1 - ab) / (ab * sigma2 + 1 - ab) * x_t
    assert torch.allclose(est, scalar, atol=1e-9)
    mse = float((est - eps).pow(2).mean())
    assert abs(mse - ab * sigma2 / (ab * sigma2 + 1 - ab)) < 0.003


def test_untrained_net_scores_like_predict_zero_on_the_same_draws(audio_folder):
    """Zero-initialised output layer ⇒ ε̂ = 0 ⇒ the model's loss equals predict-zero's."""
    crops = crops_of(sorted(audio_folder.glob("*.wav")))
    schedule = linear_schedule(50, 1e-4, 0.05)
    net = DiffWave(residual_layers=2, residual_channels=8, dilation_cycle=2).eval()
    spectrum = average_power_spectrum([crops])
    losses = held_out_losses(crops, schedule, spectrum, net=net, repeats=2)
    assert abs(losses["model"] - losses["zero"]) < 1e-6
    t = torch.arange(len(crops))
    eps = torch.randn(crops.shape, generator=torch.Generator().manual_seed(2))
    direct = reference_losses(crops, eps, t, schedule, spectrum)
    assert set(direct) == {"zero", "wiener"}
