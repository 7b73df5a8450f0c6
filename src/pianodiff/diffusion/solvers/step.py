"""What a solver is handed for one denoising move, and the solver type itself."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Estimate:
    """The model's clean estimate at an earlier level of the same descent.

    Attributes:
        x0_hat: (B, T) x̂0 at that level.
        alpha_bar: ᾱ of that level.
    """

    x0_hat: torch.Tensor
    alpha_bar: float


@dataclass(frozen=True)
class SolverStep:
    """One denoising move from a level to the next (cleaner) one.

    Attributes:
        x_t: (B, T) the sample at the current level, after the inpainter's ``prepare``.
        eps: (B, T) ε̂ at the current level (after the inpainter's ``predict``).
        x0_hat: (B, T) x̂0 at the current level, consistent with ``eps``.
        alpha_bar: ᾱ of the current level.
        alpha_bar_next: ᾱ of the next level (1.0 at the clean level 0).
        eta: the plan's η (stochasticity of solvers that have one).
        noise: draws standard normal noise shaped like its argument from the run's generator.
        previous: the estimate of the move just before, when it was a denoising move into
            the current level (None at the first move and after a jump back up).
    """

    x_t: torch.Tensor
    eps: torch.Tensor
    x0_hat: torch.Tensor
    alpha_bar: float
    alpha_bar_next: float
    eta: float
    noise: Callable[[torch.Tensor], torch.Tensor]
    previous: Estimate | None = None


Solver = Callable[[SolverStep], torch.Tensor]
"""A solver maps one :class:`SolverStep` to the (B, T) sample at the next level."""


def solver_name(solver: Solver) -> str:
    """The function name of a solver (through ``functools.partial``), for plan names."""
    while isinstance(solver, functools.partial):
        solver = solver.func
    return getattr(solver, "__name__", type(solver).__name__)
