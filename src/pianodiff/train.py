"""Train DiffWave: ``python -m pianodiff.train experiment=piano14`` (Hydra entrypoint).

The command line is checked (``pianodiff.cli``), then the Hydra app runs the training
room's body (``training/run.py``). User errors end in one line and exit status 2
(``core/errors.py``).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from pianodiff import cli
from pianodiff.conf import CONF_DIR
from pianodiff.core.allocator import tune_allocator
from pianodiff.core.errors import exit_on_user_error
from pianodiff.training.run import check_data, train

ENTRYPOINT = cli.Entrypoint(
    name="train",
    config_name="train",
    summary=(
        "Train a DiffWave diffusion model on piano audio (Lightning); the EMA weights are "
        "exported for generate at the end of the fit."
    ),
    examples=(
        "python -m pianodiff.train experiment=piano14              # GPU recipe",
        "python -m pianodiff.train experiment=piano14_ctx          # the bundled model's recipe",
        "python -m pianodiff.train experiment=smoke                # seconds: checks the plumbing",
        "python -m pianodiff.train experiment=piano14 data.root=/my/recordings ckpt_path=last",
    ),
    preflight=check_data,
)


def main() -> None:
    """The console script: check the command line, then run the Hydra app."""
    cli.run(ENTRYPOINT, train_app)


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def train_app(cfg: DictConfig) -> float | None:
    """Entrypoint; user errors end in one line and exit status 2, nothing else lost."""
    tune_allocator()
    with exit_on_user_error():
        result = train(cfg)
    return result["metrics"].get("val/loss")  # for Hydra sweepers


if __name__ == "__main__":
    main()
