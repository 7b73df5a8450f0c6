"""The solvers' order of accuracy on Gaussian data, where the exact ε̂ and the exact
probability-flow solution are known.

Data x0 ~ N(0, s²) per sample. At a level with ᾱ = a², σ² = 1 − ᾱ, the variance of x_t is
v = a²s² + σ², the exact ε̂(x_t) = E[ε | x_t] = σ·x_t / v, and the probability-flow ODE
keeps x_t / √v constant. So from x_S at the noisiest level the exact answer at the
cleanest noisy level is x_S·√(v_1 / v_S); the last move onto ᾱ = 1 adds a known, tiny
difference (≈ 1e-6 here) that is far below the errors compared.
"""

from __future__ import annotations

import math

import torch

from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.solvers.ddim import ddim
from pianodiff.diffusion.solvers.dpmpp_2m import dpmpp_2m, log_snr
from pianodiff.diffusion.solvers.step import Estimate, SolverStep, solver_name

DATA_STD = 0.5
LAMBDA_NOISY, LAMBDA_CLEAN = -2.0, 6.5  # log-SNR (log α/σ) of the noisiest and cleanest level


class ExactEps(torch.nn.Module):
    """ε̂ = σ·x_t / (ᾱs² + σ²): the exact ε-prediction for N(0, s²) data; the step input
    is the level, looked up in ``alpha_bar``."""

    def __init__(self, alpha_bar: torch.Tensor):
        super().__init__()
        self.alpha_bar = alpha_bar

    def forward(self, x_t: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        ab = self.alpha_bar[step.long()].to(x_t.dtype).unsqueeze(-1)
        return (1 - ab).sqrt() * x_t / (ab * DATA_STD**2 + 1 - ab)


def plan_in_log_snr(levels: int, solver) -> SamplingPlan:
    """``levels`` noisy levels evenly spaced in log-SNR, plus the clean level 0."""
    lam = torch.linspace(LAMBDA_CLEAN, LAMBDA_NOISY, levels, dtype=torch.float64)
    ab = torch.cat([torch.ones(1, dtype=torch.float64), torch.sigmoid(2 * lam)])
    steps = torch.arange(levels + 1, dtype=torch.float64)
    return SamplingPlan(ab, steps, eta=0.0, name=f"test{levels}", solver=solver)


def solve_error(solver, levels: int) -> float:
    """Largest error of the solver's x0 against the exact flow, over 4096 samples."""
    plan = plan_in_log_snr(levels, solver)
    x_start = torch.randn(1, 4096, generator=torch.Generator().manual_seed(0))
    ctx = InpaintContext(torch.zeros(1, 4096), torch.zeros(1, 4096), plan, clip_x0=False)
    x0 = sample(Denoiser(ExactEps(plan.alpha_bar)), Inpainter(), ctx, x_start=x_start)
    v = plan.alpha_bar * DATA_STD**2 + 1 - plan.alpha_bar
    exact = x_start * math.sqrt(v[1] / v[levels])
    return float((x0 - exact).abs().max())


def order(solver) -> float:
    """Observed order p from the errors at N and 2N levels: e(N)/e(2N) ≈ 2^p."""
    return math.log2(solve_error(solver, 16) / solve_error(solver, 32))


def test_ddim_is_first_order():
    assert 0.8 < order(ddim) < 1.3


def test_dpmpp_2m_is_second_order():
    assert 1.7 < order(dpmpp_2m) < 2.5
    assert solve_error(dpmpp_2m, 16) < solve_error(ddim, 16) / 5


def test_dpmpp_2m_first_move_is_the_deterministic_ddim_step():
    x, x0 = torch.randn(2, 64), torch.randn(2, 64)
    ab, ab_next = 0.3, 0.6
    eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
    step = SolverStep(x, eps, x0, ab, ab_next, 0.0, torch.randn_like)
    assert torch.allclose(dpmpp_2m(step), ddim(step), atol=1e-6)
    # With a history the second-order correction moves the result.
    moved = dpmpp_2m(SolverStep(x, eps, x0, ab, ab_next, 0.0, torch.randn_like, Estimate(x, 0.1)))
    assert not torch.allclose(moved, ddim(step))
    assert dpmpp_2m(SolverStep(x, eps, x0, ab, 1.0, 0.0, torch.randn_like)) is x0
    assert log_snr(0.5) == 0.0


def test_solver_names_reach_plan_names():
    from functools import partial

    from pianodiff.diffusion.plan import ddim_plan
    from pianodiff.diffusion.schedule import linear_schedule

    assert solver_name(partial(dpmpp_2m)) == "dpmpp_2m"
    schedule = linear_schedule(20)
    assert ddim_plan(schedule, 6).name == "ddim6"
    assert ddim_plan(schedule, 6, solver=partial(dpmpp_2m)).name == "dpmpp_2m6"
