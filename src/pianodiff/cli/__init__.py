"""What every entrypoint does with its command line before Hydra starts.

``python -m pianodiff.{train,generate,evaluate}`` are Hydra apps sharing one config folder,
so on their own they would list each other's groups in ``--help``, accept keys nobody
reads (``+extendr=repaint``) and answer a misspelt choice with a dozen lines. ``run``
puts three things in front of Hydra:

* ``--help`` prints this entrypoint's own groups and options, one line each (``help.py``);
* every override is checked against the entrypoint's config (``strict.py``): an unknown
  key or group choice ends in one line naming the nearest valid ones, exit status 2;
* an entrypoint's ``preflight`` (e.g. train: is there data?) runs on the composed config.

All of it happens before Hydra creates a run folder, so a refused request leaves nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from omegaconf import DictConfig

from pianodiff.conf import ConfigError

__all__ = ["ConfigError", "Entrypoint", "PreflightError", "USAGE_ERROR", "run"]

USAGE_ERROR = 2  # the exit status of a refused command line (as argparse uses)


@dataclass(frozen=True)
class Entrypoint:
    """One Hydra entrypoint as its command line sees it.

    Attributes:
        name: the module under ``pianodiff`` (``python -m pianodiff.<name>``).
        config_name: its primary config in ``pianodiff/conf``.
        summary: one line saying what it does (the top of ``--help``).
        examples: command lines shown in ``--help``.
        name_lists: options holding a list of a group's option names,
            e.g. {"extenders": "extender"}: each name must be a choice of that group.
        name_maps: options keyed by a group's option names, whose values override that
            option's settings, e.g. {"extender_params": "extender"}.
        preflight: cheap checks on the composed config (raise ``ConfigError``).
        preflight_status: the exit status of a failed preflight (the entrypoint's own
            status for bad input; a refused key or option always exits with 2).
    """

    name: str
    config_name: str
    summary: str
    examples: tuple[str, ...] = ()
    name_lists: dict[str, str] = field(default_factory=dict)
    name_maps: dict[str, str] = field(default_factory=dict)
    preflight: Callable[[DictConfig], None] | None = None
    preflight_status: int = USAGE_ERROR


class PreflightError(ConfigError):
    """A command line whose keys are fine but whose request cannot run (e.g. no data)."""


def run(entry: Entrypoint, hydra_main: Callable[[], object]) -> None:
    """Check the command line of ``entry``, then hand over to its ``@hydra.main`` function."""
    from pianodiff.cli.help import help_text
    from pianodiff.cli.strict import check_command_line

    argv = sys.argv[1:]
    if "--help" in argv or "-h" in argv:
        print(help_text(entry))
        sys.exit(0)
    try:
        check_command_line(entry, argv)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(entry.preflight_status if isinstance(err, PreflightError) else USAGE_ERROR)
    hydra_main()
