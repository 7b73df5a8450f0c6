"""``python -m pianodiff.evaluate``: measure a checkpoint's extenders and samplers.

The command line is checked (``pianodiff.cli``), then the Hydra app runs the harness
(``evaluation/harness.py``) in the run folder. User errors end in one line and exit
status 2, and leave no run folder behind. Definitions: docs/evaluation.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from pianodiff import cli
from pianodiff.conf import CONF_DIR
from pianodiff.core.allocator import tune_allocator
from pianodiff.core.errors import exit_on_user_error
from pianodiff.core.safe_writes import exit_on_sigterm, hydra_run_folder
from pianodiff.evaluation.harness import evaluate

ENTRYPOINT = cli.Entrypoint(
    name="evaluate",
    config_name="evaluate",
    summary=(
        "Measure a checkpoint's extenders and samplers on held-out real piano: gap filling "
        "(LSD, SNR), continuations (seam score, chroma, tonality), cost."
    ),
    examples=(
        "python -m pianodiff.evaluate                                   # the bundled model",
        'python -m pianodiff.evaluate "extenders=[replacement,repaint]" "samplers=[fast,ddim]"',
        "python -m pianodiff.evaluate checkpoint=untrained:small       # a control",
        "python -m pianodiff.evaluate +extender_params.repaint.n_resample=3",
    ),
    name_lists={"extenders": "extender", "samplers": "sampler"},
    name_maps={"extender_params": "extender", "sampler_params": "sampler"},
)


def main() -> None:
    """The console script: check the command line, then run the Hydra app."""
    cli.run(ENTRYPOINT, evaluate_app)


@hydra.main(config_path=str(CONF_DIR), config_name="evaluate", version_base="1.3")
def evaluate_app(cfg: DictConfig) -> None:
    tune_allocator()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    folder = hydra_run_folder()  # a refused request leaves no run folder behind
    start = time.perf_counter()
    with exit_on_user_error(folder.discard if folder is not None else None), exit_on_sigterm():
        _, table = evaluate(cfg, run_dir)
    print(table)
    print(f"results in {run_dir} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
