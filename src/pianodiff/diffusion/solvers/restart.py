"""The restart move of a consistency-style walk: the network's x̂0, then fresh noise.

A network distilled to map a noisy x_t to the end of its teacher's probability-flow ODE path
(the bundled model's ``restart_student/``; ``generation/students.py``) is walked by calling
it once per level and putting fresh noise on its estimate before the next call (Song et al.
2023, "Consistency Models", Algorithm 1):

    x_next = √ᾱ_next·x̂0 + √(1 − ᾱ_next)·z,        x̂0 itself at the clean level.

Nothing of x_t is carried over but what x̂0 holds, so each call starts from fresh noise
around the last estimate; on the bundled teacher (whose x̂0 is a posterior mean, not a sample)
the walk gives blurred, hissy audio. η is not used.
"""

from __future__ import annotations

import math

import torch

from pianodiff.diffusion.solvers.step import SolverStep


def restart(step: SolverStep) -> torch.Tensor:
    """One restart move (module docstring); (B, T) -> (B, T)."""
    if step.alpha_bar_next >= 1.0:
        return step.x0_hat
    fresh = step.noise(step.x_t)
    return (
        math.sqrt(step.alpha_bar_next) * step.x0_hat + math.sqrt(1.0 - step.alpha_bar_next) * fresh
    )
