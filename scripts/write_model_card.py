"""Write MODEL_CARD.md into an export folder from its config.yaml and weights.

    python scripts/write_model_card.py checkpoints/piano14-small [--set key=value ...]

``--set`` stores extra facts (recipe, notes, data) in the export's meta first; a value is
read as a YAML scalar (``steps=4000`` is a number, ``notes=Trained on: piano14`` text).
Everything is checked before anything is written: a refused request changes no file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from pianodiff.checkpoint.export import CONFIG_FILE, CheckpointError
from pianodiff.checkpoint.model_card import CARD_FILE, merged, render_model_card
from pianodiff.checkpoint.plain_yaml import PlainLoader, PlainYamlError, read_plain_yaml
from pianodiff.core.safe_writes import atomic_path

KEY = re.compile(r"[A-Za-z_][\w/-]*(\.[A-Za-z_][\w/-]*)*")  # e.g. val_losses.val/loss


def parse_set(item: str) -> dict[str, Any]:
    """``a.b=value`` as the nested meta update ``{"a": {"b": value}}`` (``ValueError`` with
    the fix for anything else)."""
    key, sep, text = item.partition("=")
    if not sep or not KEY.fullmatch(key):
        raise ValueError(f"--set {item!r}: write --set key=value (key: words joined by dots)")
    if "${" in text:
        raise ValueError(
            f"--set {item!r}: an interpolation would be resolved whenever the export is read "
            "(from the environment, say); write the value itself"
        )
    value: Any = text
    try:
        scalar = yaml.load(text, Loader=PlainLoader)  # plain YAML: no tags, anchors or code
    except (yaml.YAMLError, PlainYamlError):
        scalar = text
    if not isinstance(scalar, dict | list):  # "Trained on: piano" stays text
        value = text if scalar is None and text.strip() not in ("null", "~") else scalar
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    cfg_file = args.export_dir / CONFIG_FILE
    if not cfg_file.is_file():
        print(f"error: {cfg_file} not found; pass an export folder", file=sys.stderr)
        return 1
    try:
        updates: dict[str, Any] = {}
        for item in args.set:
            updates = merged(updates, parse_set(item))
        # Refuses a folder that loading would refuse, and meta that loading would refuse.
        card = render_model_card(args.export_dir, meta_updates=updates)
        if updates:
            config = read_plain_yaml(cfg_file)
            config["meta"] = merged(config.get("meta") or {}, updates)
            with atomic_path(cfg_file) as tmp:
                OmegaConf.save(OmegaConf.create(config), tmp)
        with atomic_path(args.export_dir / CARD_FILE) as tmp:
            tmp.write_text(card)
    except (CheckpointError, PlainYamlError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.export_dir / CARD_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
