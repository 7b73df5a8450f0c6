"""DPM-Solver++(2M) SDE (diffusion/solvers/dpmpp_2m_sde.py): its limits and its accuracy on
Gaussian data, where the exact ε̂ is known (the set-up of test_solvers.py)."""

from __future__ import annotations

import math

import torch
from test_solvers import DATA_STD, ExactEps, plan_in_log_snr

from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.diffusion.solvers.ddim import ddim
from pianodiff.diffusion.solvers.dpmpp_2m import dpmpp_2m
from pianodiff.diffusion.solvers.dpmpp_2m_sde import dpmpp_2m_sde
from pianodiff.diffusion.solvers.step import Estimate, SolverStep
from pianodiff.generation.configs import build_plan


def _noise(seed: int):
    gen = torch.Generator().manual_seed(seed)
    return lambda like: torch.randn(like.shape, generator=gen)


def _step(eta: float, previous: Estimate | None = None, seed: int = 0) -> SolverStep:
    g = torch.Generator().manual_seed(5)
    x, x0 = torch.randn(2, 64, generator=g), torch.randn(2, 64, generator=g)
    ab, ab_next = 0.3, 0.6
    eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
    return SolverStep(x, eps, x0, ab, ab_next, eta, _noise(seed), previous)


def test_eta_zero_is_dpmpp_2m_on_first_and_later_moves():
    previous = Estimate(torch.randn(2, 64, generator=torch.Generator().manual_seed(9)), 0.1)
    for prev in (None, previous):
        a, b = dpmpp_2m(_step(0.0, prev)), dpmpp_2m_sde(_step(0.0, prev))
        assert torch.allclose(a, b, atol=1e-5)


def test_eta_one_first_move_is_the_ancestral_ddpm_step():
    """With no earlier estimate and η = 1 the move is the DDPM posterior: DDIM at η = 1,
    drawing the same noise."""
    a, b = ddim(_step(1.0, seed=3)), dpmpp_2m_sde(_step(1.0, seed=3))
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(b, dpmpp_2m(_step(1.0)), atol=1e-3)  # the noise is there


def test_last_move_returns_the_clean_estimate():
    step = _step(1.0)
    last = SolverStep(step.x_t, step.eps, step.x0_hat, 0.9, 1.0, 1.0, step.noise)
    assert torch.equal(dpmpp_2m_sde(last), step.x0_hat)


def _sample_std(solver, levels: int, eta: float, n: int = 20000) -> float:
    """The standard deviation of samples of N(0, DATA_STD²) drawn with the exact ε̂."""
    p = plan_in_log_snr(levels, solver)
    plan = SamplingPlan(p.alpha_bar, p.net_steps, eta=eta, name="test", solver=solver)
    ab = float(plan.alpha_bar[-1])
    ctx = InpaintContext(
        torch.zeros(1, n), torch.zeros(1, n), plan, torch.Generator().manual_seed(0), clip_x0=False
    )
    x_start = torch.randn(1, n, generator=torch.Generator().manual_seed(1))
    x_start = x_start * math.sqrt(ab * DATA_STD**2 + 1 - ab)  # x_S from its exact law
    x0 = sample(Denoiser(ExactEps(plan.alpha_bar)), Inpainter(), ctx, x_start=x_start)
    return float(x0.std())


def test_samples_have_the_data_spread_and_few_steps_keep_it_better_than_ddpm_steps():
    """Ancestral first-order steps lose the data's spread on a short plan (the x̂0 of big
    steps is smoothed); the 2M correction keeps most of it."""
    assert abs(_sample_std(dpmpp_2m_sde, 32, 1.0) / DATA_STD - 1) < 0.03
    sde, ancestral = _sample_std(dpmpp_2m_sde, 8, 1.0), _sample_std(ddim, 8, 1.0)
    assert abs(sde - DATA_STD) < abs(ancestral - DATA_STD) / 3


def test_the_shipped_config_builds_a_plan_with_its_eta():
    plan = build_plan("dpmpp_2m_sde", linear_schedule(50, 1e-4, 0.05), num_steps=7, eta=0.5)
    assert plan.num_levels == 7 and plan.eta == 0.5
    assert plan.solver.func is dpmpp_2m_sde and plan.name == "dpmpp_2m_sde7"
