"""RePaint (Lugmayr et al. 2022): replacement plus the jump/resample walk.

The walk visits the plan's levels as diffusers' ``RePaintScheduler.set_timesteps`` lists
its timesteps: going down one level at a time, and at every ``jump_length``-th level
(0, j, 2j, … below S − j) it goes back up j levels and down again, ``n_resample − 1``
times (Alg. 1, lines 3 and 9–10 of the paper). The known region is pasted before every
denoising step exactly as in :mod:`replacement`, so the output keeps it exactly.

Short plans: the paper's j = 10 on a 6-level fast plan would give no jump at all (the
first jump point must lie below S − j), so the jump length is clamped to
``max(1, S // 3)``; on the paper's T = 250 this leaves j = 10 unchanged.
"""

from __future__ import annotations

from typing import Any

from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.inpaint.replacement import Replacement


def repaint_walk(num_levels: int, jump_length: int, n_resample: int) -> list[int]:
    """The levels RePaint visits, S … 0 (diffusers' RePaintScheduler semantics).

    Level s means "s noise steps applied"; diffusers' timestep t after a move equals the
    level reached, so this list is ``[S] + scheduler.timesteps`` with one level per step.
    """
    if num_levels < 1 or jump_length < 1 or n_resample < 1:
        raise ValueError("num_levels, jump_length and n_resample must all be >= 1")
    jumps = {j: n_resample - 1 for j in range(0, num_levels - jump_length, jump_length)}
    walk = [num_levels]
    t = num_levels
    while t >= 1:
        t -= 1
        walk.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] -= 1
            for _ in range(jump_length):
                t += 1
                walk.append(t)
    return walk


def repaint_nfe(num_levels: int, jump_length: int, n_resample: int) -> int:
    """Closed form of the denoising moves in ``repaint_walk``: S + (r−1)·j·⌈(S−j)/j⌉."""
    jump_points = len(range(0, num_levels - jump_length, jump_length))
    return num_levels + (n_resample - 1) * jump_length * jump_points


class RePaint(Replacement):
    """Replacement with RePaint's resampling jumps.

    Args:
        jump_length: j, levels to go back up at each jump point (paper: 10).
        n_resample: r, passes over each jump segment (paper: 10); r = 1 is replacement.
    """

    name = "repaint"

    def __init__(self, jump_length: int = 10, n_resample: int = 10):
        if jump_length < 1 or n_resample < 1:
            raise ValueError("repaint needs jump_length >= 1 and n_resample >= 1")
        self.jump_length = int(jump_length)
        self.n_resample = int(n_resample)

    def effective_jump(self, plan: SamplingPlan) -> int:
        """The jump length used on ``plan``: clamped to max(1, S // 3) on short plans."""
        return min(self.jump_length, max(1, plan.num_levels // 3))

    def walk(self, plan: SamplingPlan) -> list[int]:
        return repaint_walk(plan.num_levels, self.effective_jump(plan), self.n_resample)

    def nfe(self, plan: SamplingPlan) -> int:
        return repaint_nfe(plan.num_levels, self.effective_jump(plan), self.n_resample)

    def effective_params(self, plan: SamplingPlan) -> dict[str, Any]:
        walk = self.walk(plan)
        return {
            "jump_length": self.effective_jump(plan),
            "n_resample": self.n_resample,
            "walk_moves": len(walk) - 1,
            "up_moves": sum(1 for a, b in zip(walk, walk[1:]) if b > a),
        }
