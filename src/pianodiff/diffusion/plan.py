"""Sampling plans: the noise levels a reverse process walks through.

A plan has S levels plus the clean level 0. Level s ∈ {1..S} has noise level ᾱ_s and the
(possibly fractional) training step ``net_steps[s]`` fed to the network there; level 0 is
clean audio (ᾱ_0 = 1). A sampler is a plan (this data) plus the solver that steps between
its levels (``diffusion/solvers/``; η-DDIM unless the config names another):

    ddpm   every training step, η = 1 (ancestral; Ho et al. 2020)
    fast   DiffWave's fast schedule: a few inference βs mapped onto fractional training
           steps (Kong et al. 2020, §4), η = 1
    ddim   an evenly spaced subsequence of training steps, η by config (Song et al. 2021)
    restart  a listed few levels for a distilled student's restart walk
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.diffusion.solvers.ddim import ddim
from pianodiff.diffusion.solvers.lower_order_final import LowerOrderFinal
from pianodiff.diffusion.solvers.restart import restart
from pianodiff.diffusion.solvers.step import Solver, solver_name

# DiffWave's published 6-step inference schedule for its T=50 models.
DIFFWAVE_FAST_BETAS = (0.0001, 0.001, 0.01, 0.05, 0.2, 0.5)


PlanBuilder = Callable[..., "SamplingPlan"]
"""A ``conf/sampler`` node instantiated (``_partial_``): called with ``schedule=`` it
returns the plan over that schedule."""


@dataclass(frozen=True)
class SamplingPlan:
    """Noise levels of a reverse process.

    Attributes:
        alpha_bar: (S+1,) float64, ᾱ per level; alpha_bar[0] = 1 (clean), decreasing in s.
        net_steps: (S+1,) float, the network's step input per level; net_steps[0] unused.
        eta: η of the reverse step (1 = ancestral, 0 = deterministic DDIM).
        name: a label for logs.
        solver: the step rule between levels (``diffusion/solvers/``).
    """

    alpha_bar: torch.Tensor
    net_steps: torch.Tensor
    eta: float = 1.0
    name: str = "plan"
    solver: Solver = ddim

    def __post_init__(self) -> None:
        if len(self.alpha_bar) != len(self.net_steps) or len(self.alpha_bar) < 2:
            raise ValueError("a plan needs at least one level and matching net_steps")
        if float(self.alpha_bar[0]) != 1.0:
            raise ValueError("level 0 of a plan must be clean audio (alpha_bar[0] == 1)")
        if not bool((self.alpha_bar[1:] < self.alpha_bar[:-1]).all()):
            raise ValueError("alpha_bar must decrease with the level")

    @property
    def num_levels(self) -> int:
        """S, the number of noisy levels (one network evaluation each on a plain walk)."""
        return len(self.alpha_bar) - 1

    def descending(self) -> list[int]:
        """The plain walk S, S−1, …, 0."""
        return list(range(self.num_levels, -1, -1))


def label(default: str, solver: Solver, levels: int) -> str:
    """A plan's name: ``default`` with the η-DDIM solver, else the solver's name, + levels."""
    return f"{default if solver is ddim else solver_name(solver)}{levels}"


def ddpm_plan(schedule: NoiseSchedule, solver: Solver = ddim) -> SamplingPlan:
    """Ancestral sampling over all T training steps."""
    ab = torch.cat([torch.ones(1, dtype=torch.float64), schedule.alpha_bar])
    steps = torch.cat([torch.zeros(1), torch.arange(schedule.num_steps, dtype=torch.float64)])
    name = label("ddpm", solver, schedule.num_steps)
    return SamplingPlan(ab, steps, eta=1.0, name=name, solver=solver)


def fast_plan(
    schedule: NoiseSchedule,
    inference_betas: Sequence[float] = DIFFWAVE_FAST_BETAS,
    match_first_beta: bool = True,
    solver: Solver = ddim,
) -> SamplingPlan:
    """DiffWave's fast sampling: inference βs, each level mapped to a fractional training step.

    With ``match_first_beta`` the first (cleanest) inference β is the schedule's own first
    training β, so the final step denoises at the cleanest level the network was trained on.
    DiffWave's schedules start at β = 1e-4 like its inference list, so nothing changes there;
    a log-SNR schedule reaching +50 dB (β₁ = 1e-5) would otherwise end at +40 dB and keep
    that level's residual noise as audible hiss on quiet output.
    """
    betas = torch.tensor(list(inference_betas), dtype=torch.float64)
    if match_first_beta:
        betas[0] = schedule.betas[0]
        if len(betas) > 1 and betas[0] >= betas[1]:
            raise ValueError(
                f"fast sampler: the schedule's first beta {betas[0].item():.3g} is not below "
                f"the second inference beta {betas[1].item():.3g} (list larger "
                "sampler.inference_betas or set sampler.match_first_beta=false)"
            )
    ab_levels = torch.cumprod(1.0 - betas, dim=0)
    ab = torch.cat([torch.ones(1, dtype=torch.float64), ab_levels])
    steps = torch.cat([torch.zeros(1, dtype=torch.float64), schedule.fractional_step(ab_levels)])
    name = label("fast", solver, len(betas))
    return SamplingPlan(ab, steps, eta=1.0, name=name, solver=solver)


def ddim_plan(
    schedule: NoiseSchedule,
    num_steps: int = 20,
    eta: float = 0.0,
    solver: Solver = ddim,
    rho: float = 1.0,
    lower_order_final: bool = False,
) -> SamplingPlan:
    """A subsequence of ``num_steps`` training steps from step 0 to step T−1.

    Level i ∈ {0..S−1} (S = ``num_steps``, 0 the cleanest) visits the training step
    round((T−1)·(i/(S−1))^ρ): ρ = 1 spaces the levels evenly (over a log-SNR schedule, evenly
    in log-SNR), ρ > 1 spends more of them near clean audio, ρ < 1 near noise. Two levels on
    one training step are an error, not a silently shorter plan. ``lower_order_final`` steps
    onto the last noisy level at first order (``solvers/lower_order_final.py``).
    """
    top = schedule.num_steps - 1
    if not 1 <= num_steps <= schedule.num_steps:
        raise ValueError(f"ddim num_steps must be in 1..{schedule.num_steps}, got {num_steps}")
    try:
        power = float(rho)
    except (TypeError, ValueError):
        power = math.nan
    if not (math.isfinite(power) and power > 0):
        raise ValueError(f"ddim rho must be a number above 0 (1 = even spacing), got {rho}")
    if power == 1.0:  # even: the same levels as ever, ties at .5 included (float32 linspace)
        position = torch.linspace(0, top, num_steps)
    else:
        position = top * torch.linspace(0, 1, num_steps, dtype=torch.float64) ** power
    idx = position.round().long()
    if len(idx.unique()) != len(idx):
        raise ValueError(
            f"ddim rho={power:g} puts two of {num_steps} levels on one training step (steps "
            f"{idx.tolist()}); use a rho nearer 1 or fewer num_steps"
        )
    ab = torch.cat([torch.ones(1, dtype=torch.float64), schedule.alpha_bar[idx]])
    steps = torch.cat([torch.zeros(1, dtype=torch.float64), idx.double()])
    name = label("ddim", solver, len(idx))
    if lower_order_final:
        solver = LowerOrderFinal(solver, float(ab[1]))
    return SamplingPlan(ab, steps, eta=float(eta), name=name, solver=solver)


def restart_plan(
    schedule: NoiseSchedule,
    steps: Sequence[int] = (19, 28, 36, 40, 45, 49),
    steps_of: int = 50,
    solver: Solver = restart,
) -> SamplingPlan:
    """One level per listed training step of a ``steps_of``-step schedule, for the restart walk
    of a distilled student (``solvers/restart.py``).

    On a schedule with another T the listed steps keep their place in the step range: step s
    becomes the fractional step s·(T−1)/(steps_of−1), its ᾱ interpolated linearly in √ᾱ
    between the neighbouring training steps (the inverse of ``fractional_step``). On a
    ``steps_of``-step schedule they are the training steps themselves.
    """
    listed = sorted(int(s) for s in steps)
    if not listed or len(set(listed)) != len(listed) or listed[0] < 0 or listed[-1] >= steps_of:
        raise ValueError(
            f"restart steps must be distinct training steps in 0..{steps_of - 1}, got {list(steps)}"
        )
    top = schedule.num_steps - 1
    position = torch.tensor(listed, dtype=torch.float64) * top / (steps_of - 1)
    low = position.floor().long()  # position <= top, so low <= top
    high = (low + 1).clamp(max=top)
    root = schedule.alpha_bar.double().sqrt()
    frac = position - low.double()
    ab = ((1 - frac) * root[low] + frac * root[high]) ** 2
    alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), ab])
    net_steps = torch.cat([torch.zeros(1, dtype=torch.float64), position])
    name = label("restart", solver, len(listed))
    return SamplingPlan(alpha_bar, net_steps, eta=1.0, name=name, solver=solver)
