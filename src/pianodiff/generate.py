"""``python -m pianodiff.generate``: long piano audio from a trained DiffWave.

    python -m pianodiff.generate extender=repaint seconds=30
    python -m pianodiff.generate prompt=my.wav extender=interpolation seconds=20 output=out.wav
    python -m pianodiff.generate geometry=original seconds=10     # the original script's setup

A thin Hydra entrypoint around :func:`pianodiff.generation.run.run_generation`. The output
is the prompt (the whole prompt file, or a 5 s unconditional base window) followed by
``seconds`` of new audio. Bad input ends with one line on stderr and exit status 2, and
leaves no file and no run folder (every entrypoint's convention: ``core/errors.py``); an
unknown key or option is refused before Hydra starts (``pianodiff.cli``).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from pianodiff import cli
from pianodiff.conf import CONF_DIR
from pianodiff.core.allocator import tune_allocator
from pianodiff.core.errors import exit_on_user_error
from pianodiff.core.safe_writes import exit_on_sigterm, hydra_run_folder
from pianodiff.generation.run import GenerationResult, run_generation

ENTRYPOINT = cli.Entrypoint(
    name="generate",
    config_name="generate",
    summary=(
        "Generate piano audio with a trained DiffWave: a prompt (your recording, kept whole, "
        "or a 5 s base window), then `seconds` of new audio, window by window."
    ),
    examples=(
        "python -m pianodiff.generate extender=repaint seconds=30",
        "python -m pianodiff.generate prompt=my.wav seconds=20 output=out.wav",
        "python -m pianodiff.generate prompt=my.wav seconds=20 include_prompt=false",
        "python -m pianodiff.generate -m extender=interpolation,repaint history=true",
    ),
)


def main() -> None:
    """The console script: check the command line, then run the Hydra app."""
    cli.run(ENTRYPOINT, generate_app)


@hydra.main(config_path=str(CONF_DIR), config_name="generate", version_base="1.3")
def generate_app(cfg: DictConfig) -> GenerationResult | None:
    tune_allocator()
    folder = hydra_run_folder()  # a refused request leaves no run folder behind
    undo = folder.discard if folder is not None else None
    try:
        with exit_on_user_error(undo), exit_on_sigterm():  # SIGTERM cleans up as Ctrl-C does
            result = run_generation(cfg)
    except (KeyboardInterrupt, SystemExit):
        if undo is not None:
            undo()
        raise
    meta = result.meta
    print(
        f"wrote {result.output} ({meta['duration_seconds']:.2f} s, {meta['extender']}, "
        f"{meta['sampler']}, NFE {meta['nfe']}, {meta['wall_seconds']:.1f} s wall)"
    )
    return result


if __name__ == "__main__":
    main()
