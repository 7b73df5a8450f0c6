"""``pianodiff-app`` / ``python -m pianodiff.app``: the command that starts the web page.

    pianodiff-app                                   # http://127.0.0.1:7860, bundled models
    pianodiff-app --port 8000 --models my/exports --outputs my/outputs
    pianodiff-app --set geometry.window_seconds=2.5 --set bf16=true

Without the ``app`` extra it says, in one line, which extra to install. Every bad option
is one ``error:`` line and exit status 2, before anything is loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from pianodiff.app import EXTRA_HINT
from pianodiff.app.errors import AppError
from pianodiff.app.limits import Limits
from pianodiff.app.models import default_models_folder, is_export, list_exports
from pianodiff.app.studio import DEFAULT_OUTPUTS, Studio, StudioOptions
from pianodiff.core.errors import USER_ERROR_EXIT, exit_on_user_error
from pianodiff.generation.configs import generate_settings

OPTIONAL = {"gradio", "gradio_client"}  # what the app extra brings

# Keys the page itself sets on every request: --set cannot fix them.
PAGE_KEYS = {
    "seconds", "seed", "candidates", "prompt", "ground_file", "output", "overwrite",
    "extender", "sampler", "preset", "history", "progress", "checkpoint", "device",
}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pianodiff-app",
        description="A local web page to continue a piano recording, listen, and compare "
        "extenders. Binds 127.0.0.1; nothing is sent anywhere.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument(
        "--share", action="store_true", help="also open a public Gradio share link (off by default)"
    )
    p.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder of export folders to list (default: the project's checkpoints/)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="export folder selected at start (default: the first listed)",
    )
    p.add_argument(
        "--outputs",
        type=Path,
        default=DEFAULT_OUTPUTS,
        help=f"folder every result is written under (default {DEFAULT_OUTPUTS})",
    )
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu or cuda")
    limits = Limits()
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=limits.upload_mb,
        help=f"largest prompt upload in MB (default {limits.upload_mb:g})",
    )
    p.add_argument(
        "--max-prompt-seconds",
        type=float,
        default=limits.prompt_seconds,
        help=f"longest prompt in seconds (default {limits.prompt_seconds:g})",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=limits.seconds,
        help=f"most new audio per request in seconds (default {limits.seconds:g})",
    )
    p.add_argument(
        "--max-candidates",
        type=int,
        default=limits.candidates,
        help=f"most candidates per window (default {limits.candidates})",
    )
    p.add_argument(
        "--set",
        dest="values",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a conf/generate.yaml key for every request, e.g. "
        "geometry.window_seconds=2.5 or bf16=true (repeatable)",
    )
    return p  # fmt: skip


def parse_values(items: list[str]) -> dict[str, Any]:
    """``--set`` items as {dotted key: YAML value}; each key must exist in generate.yaml."""
    cfg = generate_settings()
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AppError(f"--set {item}: write KEY=VALUE, e.g. --set bf16=true")
        if key.split(".")[0] in PAGE_KEYS:
            raise AppError(f"--set {key}: the page sets {key.split('.')[0]} per request")
        if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
            raise AppError(f"--set {key}: no such key in conf/generate.yaml")
        try:
            values[key] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise AppError(f"--set {item}: {raw!r} is not a YAML value") from None
    return values


_MISSING = object()


def options(args: argparse.Namespace) -> StudioOptions:
    """The studio's options from the command line; one line for each bad one."""
    if not 0 < args.port < 65536:
        raise AppError(f"--port {args.port} is not a port; use 1-65535")
    models = args.models if args.models is not None else default_models_folder()
    if args.models is not None and not models.is_dir():
        raise AppError(f"--models {models} is not a folder; pass a folder of export folders")
    if args.model is not None and not is_export(args.model):
        raise AppError(
            f"--model {args.model} is not an export folder (needs model.safetensors and "
            "config.yaml)"
        )
    if args.model is None and not list_exports(models):
        raise AppError(
            f"no export folder in {models}; pass --model <export folder> or --models <folder>"
        )
    limits = Limits(
        args.max_upload_mb, args.max_prompt_seconds, args.max_seconds, args.max_candidates
    )
    return StudioOptions(
        models=models,
        model=args.model,
        outputs=args.outputs,
        limits=limits,
        device=args.device,
        values=parse_values(args.values),
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, then serve the page until Ctrl-C."""
    args = parser().parse_args(argv)
    try:
        from pianodiff.app.server import launch  # imports gradio, the optional extra
    except ImportError as err:
        if (err.name or "").split(".")[0] not in OPTIONAL:
            raise
        print(f"error: {EXTRA_HINT}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
    with exit_on_user_error():
        studio = Studio(options(args))

    try:
        launch(studio, args.host, args.port, share=args.share)
    except OSError as err:
        print(
            f"error: cannot serve on {args.host}:{args.port} ({err}); pass another --port",
            file=sys.stderr,
        )
        sys.exit(USER_ERROR_EXIT)
