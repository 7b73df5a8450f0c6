"""Samplers compared at equal network calls on the bundled model (docs/generation.md).

For each sampler and step count, each seed generates a 2 s unconditional base window and
2 s of continuation (interpolation extender, 2 s windows with 0.5 s context) and measures
the new audio: tonality and onset rate, notes per second when the notes extra is
installed, and the seam score of every seam (local excerpt, as the engine ranks them).

    python -m studies.solver_study [--samplers ddim dpmpp_2m] [--steps 6 10] [--seeds 3]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from pianodiff.api import Generator
from pianodiff.generation.geometry import Geometry
from pianodiff.measures.listening import sample_measures
from studies.training_probe import mean_measures

BUNDLED = Path(__file__).resolve().parents[1] / "checkpoints" / "piano14-small"
GEOMETRY = Geometry(window_seconds=2.0, context_seconds=0.5, crossfade_seconds=0.05)


def measure(gen: Generator, sampler: str, steps: int, seed: int, seconds: float) -> dict:
    """Measures of one run's new audio, plus its mean seam score and wall seconds."""
    start = time.perf_counter()
    audio, sr = gen.generate(
        seconds, sampler=sampler, sampler_params={"num_steps": steps}, seed=seed, geometry=GEOMETRY
    )
    wall = time.perf_counter() - start
    new = audio[gen.last.base_samples :]
    row = sample_measures(new, sr)
    row["seam"] = sum(gen.last.seam_scores) / len(gen.last.seam_scores)
    row["wall_s"] = wall
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", nargs="+", default=["ddim", "dpmpp_2m"])
    parser.add_argument("--steps", nargs="+", type=int, default=[6, 10])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    gen = Generator.from_checkpoint(BUNDLED, device="cpu")
    print("| sampler | NFE/window | tonality | onsets/s | notes/s | seam | wall s |")
    print("|---|---|---|---|---|---|---|")
    for steps in args.steps:
        for sampler in args.samplers:
            rows = [measure(gen, sampler, steps, s, args.seconds) for s in range(args.seeds)]
            m = mean_measures(rows)
            notes = m.get("notes_per_s", math.nan)
            print(
                f"| {sampler} | {steps} | {m['tonality']:.3f} | {m['onset_rate']:.2f} | "
                f"{notes:.2f} | {m['seam']:.2f} | {m['wall_s']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
