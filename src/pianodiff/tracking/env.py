"""W&B stays off the network unless the user asks for online mode.

W&B's telemetry (OpenTelemetry metrics, probed with an HTTPS POST to its server after a
DNS lookup) follows the process-wide settings, which read ``$WANDB_MODE``, not the mode
given to one run: an offline run with ``WANDB_MODE`` unset still reaches for the network.
So every place that starts a W&B run first calls :func:`settle_wandb_mode`, which, unless
the mode is online, sets ``WANDB_MODE`` for this process (and the W&B service it starts),
turns error reporting off and disables the telemetry before W&B reads any of it.
"""

from __future__ import annotations

import os

ONLINE_MODES = ("online", "run")


def settle_wandb_mode(requested: str | None = None) -> str:
    """The W&B mode to use: ``requested``, else ``$WANDB_MODE``, else "offline".

    Unless that mode is online, the process environment is set to it, with error
    reporting off, and W&B's telemetry is disabled; an online mode changes nothing.
    """
    mode = str(requested or os.environ.get("WANDB_MODE") or "offline")
    if mode in ONLINE_MODES:
        return mode
    os.environ["WANDB_MODE"] = mode
    os.environ["WANDB_ERROR_REPORTING"] = "false"
    _disable_telemetry()
    return mode


def _disable_telemetry() -> None:
    try:
        from wandb.analytics.opentelemetry import opentelemetry_proxy
    except ImportError:  # a W&B release without it: the settings above still apply
        return
    disable = getattr(opentelemetry_proxy, "disable", None)
    if callable(disable):
        disable()
