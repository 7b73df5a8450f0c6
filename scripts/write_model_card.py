"""Write MODEL_CARD.md into an export folder from its config.yaml and weights.

    python scripts/write_model_card.py checkpoints/piano14-small [--set key=value ...]

``--set`` stores extra facts (recipe, notes, data) in the export's meta first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf

from pianodiff.checkpoint.export import CONFIG_FILE, CheckpointError
from pianodiff.checkpoint.model_card import CARD_FILE, render_model_card
from pianodiff.core.audio import atomic_path


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
        render_model_card(args.export_dir)  # refuses a folder that loading would refuse
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.set:
        cfg = OmegaConf.load(cfg_file)
        for item in args.set:
            key, _, value = item.partition("=")
            OmegaConf.update(cfg, f"meta.{key}", value, force_add=True)
        with atomic_path(cfg_file) as tmp:
            OmegaConf.save(cfg, tmp)
    with atomic_path(args.export_dir / CARD_FILE) as tmp:
        tmp.write_text(render_model_card(args.export_dir))
    print(f"wrote {args.export_dir / CARD_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
