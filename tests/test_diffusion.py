"""Diffusion maths against closed forms and the statistics of many q_sample draws."""

from __future__ import annotations

import math

import pytest
import torch

from pianodiff.diffusion.plan import ddim_plan, ddpm_plan, fast_plan
from pianodiff.diffusion.process import (
    ddim_sigma,
    eps_from_x0,
    forward_step,
    q_sample,
    reverse_step,
    x0_from_eps,
)
from pianodiff.diffusion.schedule import (
    NoiseSchedule,
    cosine_schedule,
    linear_schedule,
    log_snr_schedule,
)


def posterior_mean_variance(
    x0: torch.Tensor, x_t: torch.Tensor, alpha_bar: float, alpha_bar_prev: float
) -> tuple[torch.Tensor, float]:
    """Mean and variance of q(x_{t−1} | x_t, x0) (Ho eq. 6–7), with β = 1 − ᾱ/ᾱ_prev: the
    closed form the reverse step is checked against."""
    beta = 1.0 - alpha_bar / alpha_bar_prev
    coef_x0 = math.sqrt(alpha_bar_prev) * beta / (1.0 - alpha_bar)
    coef_xt = math.sqrt(1.0 - beta) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * beta
    return coef_x0 * x0 + coef_xt * x_t, variance


def test_linear_schedule_closed_form():
    s = linear_schedule(200, 1e-4, 0.02)
    assert s.num_steps == 200
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    # ᾱ_t = Π (1 − β_s), computed in log space independently.
    t = 123
    expected = math.exp(sum(math.log(1 - (1e-4 + (0.02 - 1e-4) * i / 199)) for i in range(t + 1)))
    assert s.alpha_bar[t].item() == pytest.approx(expected, rel=1e-12)
    assert s.alpha_bar_prev[0].item() == 1.0
    assert s.alpha_bar_prev[t].item() == pytest.approx(s.alpha_bar[t - 1].item())


def test_posterior_variance_closed_form():
    s = linear_schedule(50, 1e-4, 0.05)
    assert s.posterior_variance[0].item() == 0.0  # q(x_{-1}|x_0, x0) is a point mass
    t = 20
    ab, abp, b = s.alpha_bar[t].item(), s.alpha_bar[t - 1].item(), s.betas[t].item()
    assert s.posterior_variance[t].item() == pytest.approx((1 - abp) / (1 - ab) * b, rel=1e-12)
    _, var = posterior_mean_variance(torch.zeros(1), torch.zeros(1), ab, abp)
    assert var == pytest.approx(s.posterior_variance[t].item(), rel=1e-9)
    # η = 1 in the generalised step is exactly the DDPM posterior standard deviation.
    assert ddim_sigma(ab, abp, 1.0) ** 2 == pytest.approx(var, rel=1e-9)
    assert ddim_sigma(ab, abp, 0.0) == 0.0


def test_cosine_schedule_follows_its_formula():
    T, off = 200, 0.008
    s = cosine_schedule(T)
    f = lambda t: math.cos((t / T + off) / (1 + off) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 50, 150):
        assert s.alpha_bar[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-9)


def test_q_sample_statistics():
    gen = torch.Generator().manual_seed(0)
    ab = 0.3
    x0 = torch.full((200_000,), 0.5, dtype=torch.float64)
    eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    x_t = q_sample(x0, ab, eps)
    # q(x_t | x0) = N(√ᾱ x0, 1 − ᾱ): 4-sigma tolerances for 2e5 draws.
    assert x_t.mean().item() == pytest.approx(math.sqrt(ab) * 0.5, abs=4 * math.sqrt(0.7 / 2e5))
    assert x_t.var().item() == pytest.approx(1 - ab, abs=4 * 0.7 * math.sqrt(2 / 2e5))


def test_x0_and_eps_inverses():
    gen = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(2, 2, 64, generator=gen, dtype=torch.float64)
    ab = torch.tensor([[0.9], [0.05]], dtype=torch.float64)
    x_t = q_sample(x0, ab, eps)
    assert torch.allclose(x0_from_eps(x_t, ab, eps), x0)
    assert torch.allclose(eps_from_x0(x_t, ab, x0), eps)


def test_ancestral_step_equals_posterior_mean_with_true_eps():
    gen = torch.Generator().manual_seed(2)
    s = linear_schedule(50, 1e-4, 0.05)
    x0, eps = torch.randn(2, 1, 128, generator=gen, dtype=torch.float64)
    t = 30
    ab, abp = s.alpha_bar[t].item(), s.alpha_bar[t - 1].item()
    x_t = q_sample(x0, ab, eps)
    mean, var = posterior_mean_variance(x0, x_t, ab, abp)
    step = reverse_step(x0, eps, abp, ddim_sigma(ab, abp, 1.0), torch.zeros_like(x0))
    assert torch.allclose(step, mean, atol=1e-10)


def test_forward_step_statistics():
    gen = torch.Generator().manual_seed(3)
    x_prev = torch.full((100_000,), 1.0, dtype=torch.float64)
    noise = torch.randn(x_prev.shape, generator=gen, dtype=torch.float64)
    x = forward_step(x_prev, 0.5, 0.8, noise)
    alpha = 0.5 / 0.8
    assert x.mean().item() == pytest.approx(math.sqrt(alpha), abs=0.01)
    assert x.var().item() == pytest.approx(1 - alpha, abs=0.01)


def test_fractional_steps():
    s = linear_schedule(50, 1e-4, 0.05)
    exact = s.fractional_step(s.alpha_bar[[0, 7, 49]])
    assert torch.allclose(exact, torch.tensor([0.0, 7.0, 49.0], dtype=exact.dtype), atol=1e-9)
    # √ᾱ halfway between steps 7 and 8 maps to 7.5 (linear interpolation of √ᾱ).
    mid = ((s.alpha_bar[7].sqrt() + s.alpha_bar[8].sqrt()) / 2) ** 2
    assert s.fractional_step(mid.reshape(1)).item() == pytest.approx(7.5)
    plan = fast_plan(s)
    steps = plan.net_steps[1:]
    assert bool((steps[1:] > steps[:-1]).all()) and steps.min() >= 0 and steps.max() <= 49
    assert any(abs(v - round(v)) > 1e-3 for v in steps.tolist())


def test_fast_plan_ends_at_the_schedules_cleanest_training_level():
    # DiffWave's own schedules start at beta 1e-4 like the published inference list: unchanged.
    linear = linear_schedule(50, 1e-4, 0.05)
    published = fast_plan(linear, match_first_beta=False)
    assert torch.allclose(fast_plan(linear).alpha_bar, published.alpha_bar)
    # A log-SNR schedule trained down to +50 dB: the last level is its step 0, not +40 dB.
    logsnr = log_snr_schedule(50, snr_max_db=50.0, snr_min_db=-10.0)
    plan = fast_plan(logsnr)
    assert plan.alpha_bar[1].item() == pytest.approx(logsnr.alpha_bar[0].item())
    assert plan.net_steps[1].item() == pytest.approx(0.0, abs=1e-9)
    assert fast_plan(logsnr, match_first_beta=False).alpha_bar[1].item() == pytest.approx(1 - 1e-4)
    with pytest.raises(ValueError, match="not below the second inference beta"):
        fast_plan(logsnr, inference_betas=[1e-3, 1e-6, 0.1])


def test_plans():
    s = linear_schedule(200)
    assert ddpm_plan(s).num_levels == 200
    d = ddim_plan(s, 20, eta=0.0)
    assert d.num_levels == 20 and d.net_steps[-1].item() == 199
    with pytest.raises(ValueError):
        ddim_plan(s, 500)


def test_schedule_rejects_bad_betas():
    with pytest.raises(ValueError):
        NoiseSchedule(torch.tensor([0.1, 1.0], dtype=torch.float64))
