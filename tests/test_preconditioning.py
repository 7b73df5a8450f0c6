"""EDM-style preconditioning of the ε-network (diffusion/preconditioning.py)."""

from __future__ import annotations

import torch

from pianodiff.checkpoint import load_export
from pianodiff.diffusion.preconditioning import PreconditionedEps
from pianodiff.diffusion.process import q_sample
from pianodiff.diffusion.schedule import log_snr_schedule
from pianodiff.model_card import render_model_card
from pianodiff.nets import DiffWave
from pianodiff.train import compose_train_config, train

SCHEDULE = log_snr_schedule(num_steps=50, snr_max_db=50.0, snr_min_db=-10.0)


def untrained(data_std: float = 0.1) -> PreconditionedEps:
    net = DiffWave(residual_layers=2, residual_channels=4, dilation_cycle=2)
    return PreconditionedEps(net, SCHEDULE, data_std=data_std).eval()


def test_coefficients_at_integer_and_fractional_steps():
    model = untrained()
    a = SCHEDULE.alpha_bar.sqrt().float()
    c_in, c_skip, c_out = model.coefficients(torch.tensor([7.0]))
    var = a[7] ** 2 * 0.01 + 1 - a[7] ** 2
    assert torch.allclose(c_in, var.rsqrt())
    assert torch.allclose(c_skip, (1 - a[7] ** 2).sqrt() / var)
    assert torch.allclose(c_out, (a[7] ** 2 * 0.01 / var).sqrt())
    # A fractional step uses √ᾱ interpolated linearly, as fractional_step maps levels.
    mid = 0.25 * a[7] + 0.75 * a[8]
    c_in_mid, _, _ = model.coefficients(torch.tensor([7.75]))
    assert torch.allclose(c_in_mid, (mid**2 * 0.01 + 1 - mid**2).rsqrt())


def test_untrained_model_is_the_linear_mmse_estimate_of_the_noise():
    # DiffWave's output layer starts at zero, so ε̂ = c_skip · x_t; for white data of RMS σ
    # that estimate's mean squared error is a²σ² / (a²σ² + s²) = c_out².
    model = untrained(data_std=0.1)
    gen = torch.Generator().manual_seed(0)
    x0 = 0.1 * torch.randn(4, 8000, generator=gen)
    eps = torch.randn(4, 8000, generator=gen)
    for step in (0, 20, 49):
        t = torch.full((4,), float(step))
        x_t = q_sample(x0, SCHEDULE.alpha_bar[step].float(), eps)
        with torch.no_grad():
            eps_hat = model(x_t, t)
        c_in, c_skip, c_out = model.coefficients(t)
        assert torch.allclose(eps_hat, c_skip[0] * x_t)
        mse = (eps_hat - eps).pow(2).mean()
        assert abs(mse.item() - c_out[0].item() ** 2) < 0.03 * c_out[0].item() ** 2 + 1e-3
        assert abs((c_in[0] * x_t).std().item() - 1.0) < 0.03  # unit-variance input


def test_small_precond_trains_exports_and_reloads(tmp_path, smoke_overrides):
    cfg = compose_train_config(
        smoke_overrides(
            f"paths.run_dir={tmp_path / 'run'}",
            "trainer.max_steps=2",
            "model=small_precond",
            "model.net.residual_layers=2",
            "model.net.residual_channels=4",
        )
    )
    result = train(cfg)
    module = result["module"]
    assert isinstance(module.net, PreconditionedEps)
    # The schedule inside the model is the training schedule (${diffusion} interpolation).
    assert torch.allclose(module.net.sqrt_alpha_bar, module.schedule.alpha_bar.sqrt().float())
    export = tmp_path / "run" / "export"
    loaded = load_export(export)
    x = torch.randn(1, 2000)
    t = torch.tensor([3.5])
    with torch.no_grad():
        assert torch.equal(loaded.net(x, t), module.ema.net.eval()(x, t))
    assert "EDM-style preconditioning" in render_model_card(export)
