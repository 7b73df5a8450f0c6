"""Train DiffWave: ``python -m pianodiff.train experiment=piano14`` (Hydra entrypoint).

The command line is checked (``pianodiff.cli``), then the Hydra app runs the training
room's body (``training/run.py``). User errors end in one line and exit status 1.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from pianodiff import cli
from pianodiff.core.allocator import tune_allocator
from pianodiff.training.run import USER_ERRORS, check_data, train

ENTRYPOINT = cli.Entrypoint(
    name="train",
    config_name="train",
    summary=(
        "Train a DiffWave diffusion model on piano audio (Lightning); the EMA weights are "
        "exported for generate at the end of the fit."
    ),
    examples=(
        "python -m pianodiff.train experiment=piano14              # GPU recipe",
        "python -m pianodiff.train experiment=piano14_cpu          # the bundled model's recipe",
        "python -m pianodiff.train experiment=smoke                # seconds: checks the plumbing",
        "python -m pianodiff.train experiment=piano14 data.root=/my/recordings ckpt_path=last",
    ),
    preflight=check_data,
    preflight_status=1,
)


def main() -> None:
    """The console script: check the command line, then run the Hydra app."""
    cli.run(ENTRYPOINT, train_app)


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def train_app(cfg: DictConfig) -> float | None:
    """Entrypoint; user errors end in one line and exit status 1, nothing else lost."""
    tune_allocator()
    try:
        result = train(cfg)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    return result["metrics"].get("val/loss")  # for Hydra sweepers


if __name__ == "__main__":
    main()
