"""Export the EMA weights of a training checkpoint for inference.

    python scripts/export_checkpoint.py outputs/piano14/<run>/checkpoints/last.ckpt checkpoints/mine

writes ``model.safetensors`` + ``config.yaml`` (loadable without pickle by
``pianodiff.checkpoint.export.load_export`` and ``python -m pianodiff.generate checkpoint=...``).
An existing OUT_DIR is replaced only when the export succeeded.
"""

from __future__ import annotations

import argparse
import sys

from pianodiff.checkpoint.export import CheckpointError
from pianodiff.checkpoint.from_training import export_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", help="a Lightning .ckpt written by pianodiff.train")
    parser.add_argument("out_dir", help="export folder (model.safetensors + config.yaml)")
    parser.add_argument("--note", default=None, help="free text stored in the export's meta")
    args = parser.parse_args(argv)
    try:
        out = export_checkpoint(args.ckpt, args.out_dir, {"note": args.note} if args.note else None)
    except (CheckpointError, OSError) as err:  # e.g. a full disk while writing
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"exported {args.ckpt} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
