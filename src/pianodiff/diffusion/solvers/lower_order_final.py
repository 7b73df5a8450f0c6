"""Lower order on the final noisy move: a multistep solver's history dropped there.

A multistep rule (``dpmpp_2m``, ``dpmpp_2m_sde``) extrapolates x̂0 from the last two
estimates with the weight 1/(2ρ), ρ = h_previous / h. On a plan whose moves grow toward
clean audio (``ddim_plan``'s ρ < 1) the move onto the last noisy level is the longest, so
the weight is largest exactly where the estimates' errors are left in the output as hiss.
The DPM-Solver authors take first order at the last steps of short runs for this reason
(Lu et al. 2022, "DPM-Solver++", §5; diffusers' ``lower_order_final``); this wrapper does
the same on the move onto the plan's last noisy level, and leaves every other move, and
single-step solvers, as they are.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from pianodiff.diffusion.solvers.step import Solver, SolverStep, solver_name


@dataclass(frozen=True)
class LowerOrderFinal:
    """``solver`` at first order on moves onto the level ``alpha_bar`` (the plan's last
    noisy level, level 1): the previous estimate is not handed to it there.

    Attributes:
        solver: the wrapped step rule.
        alpha_bar: ᾱ of the plan's last noisy level.
    """

    solver: Solver
    alpha_bar: float

    @property
    def __name__(self) -> str:  # plan labels and logs name the wrapped rule
        return solver_name(self.solver)

    def __call__(self, step: SolverStep) -> torch.Tensor:
        """One move; (B, T) -> (B, T)."""
        if step.previous is not None and step.alpha_bar_next == self.alpha_bar:
            step = dataclasses.replace(step, previous=None)
        return self.solver(step)
