"""CPU training step: network shape, torch.compile and crop shape vs today's eager step.

    python -m benchmarks.train_step [--quick]

One training step as ``DiffWaveModule`` takes it (q_sample, the preconditioned ε-network,
L1 loss, backward, gradient clipping, Adam, EMA update) on the same audio per step as
``experiment=piano14_cpu`` (8 crops of 0.5 s). The baseline is the eager fp32 step of
``model=small_precond`` (the full-rate 20 × 32 net); every other candidate is reported as
audio-seconds per wall-second and as a ratio to it. The candidates are stepped round-robin
(one step each per round), so a machine shared with other work slows all of them alike, and
medians are reported. torch.compile's first steps (compilation) are its own row.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

import torch
from hydra.utils import instantiate

from pianodiff.training.lit_module import DiffWaveModule
from pianodiff.training.run import compose_train_config


class Candidate:
    """A model config, crop shape and compile choice with its own module and optimiser."""

    def __init__(self, label: str, model: str, crops: int, seconds: float, compiled: bool):
        self.label = label
        cfg = compose_train_config(["experiment=piano14_cpu", f"model={model}"])
        torch.manual_seed(0)
        net = instantiate(cfg.model)
        self.module = DiffWaveModule(
            net, instantiate(cfg.diffusion), functools.partial(torch.optim.Adam, lr=1e-3)
        )
        if compiled:
            self.module.net.compile()  # in place: parameter names (checkpoints) unchanged
        self.optimizer = torch.optim.Adam(self.module.net.parameters(), lr=1e-3)
        self.shape = (crops, int(seconds * 22050))
        self.audio_seconds = crops * seconds
        self.gen = torch.Generator().manual_seed(0)
        self.times: list[float] = []

    def step(self) -> float:
        """One training step; returns its wall time in seconds."""
        x0 = 0.1 * torch.randn(self.shape, generator=self.gen)
        t = torch.randint(self.module.schedule.num_steps, (self.shape[0],), generator=self.gen)
        eps = torch.randn(self.shape, generator=self.gen)
        start = time.perf_counter()
        loss = self.module.diffusion_loss(self.module.net, x0, t, eps).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.module.net.parameters(), 1.0)
        self.optimizer.step()
        self.module.ema.update(self.module.net)
        float(loss.detach())  # waits for the step to finish
        elapsed = time.perf_counter() - start
        self.times.append(elapsed)
        return elapsed


def candidates(quick: bool) -> list[Candidate]:
    rows = [
        Candidate("small_precond eager 8x0.5s (today)", "small_precond", 8, 0.5, False),
        Candidate("framed16 eager 8x0.5s", "framed16", 8, 0.5, False),
        Candidate("framed16 eager 4x1s", "framed16", 4, 1.0, False),
        # the default model's net and crop shape (experiment=piano14_melodies_cpu_ctx_long)
        Candidate("framed16_ctx eager 2x2.5s", "framed16_ctx", 2, 2.5, False),
    ]
    if not quick:
        rows += [
            Candidate("framed16 compiled 8x0.5s", "framed16", 8, 0.5, True),
            Candidate("framed16 compiled 4x1s", "framed16", 4, 1.0, True),
            Candidate("framed8 eager 8x0.5s", "framed8", 8, 0.5, False),
            Candidate("framed4 eager 8x0.5s", "framed4", 8, 0.5, False),
        ]
    return rows


def main(quick: bool = False) -> list[dict]:
    """Rows {name, value, baseline, ratio, unit, rel_error}; printed as they are measured."""
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    cands = candidates(quick)
    warmup, rounds = (1, 2) if quick else (3, 8)
    first_steps = {}
    for c in cands:
        first_steps[c.label] = sum(c.step() for _ in range(warmup))  # compile happens here
        c.times.clear()
    for _ in range(rounds):
        for c in cands:
            c.step()
    base = cands[0]
    base_rate = base.audio_seconds / statistics.median(base.times)
    rows = []
    for c in cands:
        med = statistics.median(c.times)
        mad = statistics.median(abs(t - med) for t in c.times)
        rate = c.audio_seconds / med
        row = {
            "name": f"train step {c.label}, {threads} threads",
            "value": rate,
            "baseline": base_rate,
            "ratio": rate / base_rate,
            "unit": "audio-s/s (vs small_precond eager)",
            "rel_error": mad / med / len(c.times) ** 0.5,
        }
        rows.append(row)
        print(
            f"{row['name']:<58} {rate:.3f} audio-s/s  ratio {row['ratio']:.2f}  "
            f"({med:.2f} s/step; first {warmup} steps {first_steps[c.label]:.1f} s)",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="eager only, fewer steps")
    main(parser.parse_args().quick)
