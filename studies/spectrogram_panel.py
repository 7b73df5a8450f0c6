"""Spectrograms of models' samples beside real held-out piano, one row each.

    python scripts/spectrogram_panel.py before=checkpoints/piano14-small \\
        framed16_ctx=outputs/net_study/framed16_ctx/export --out docs/img/spectrograms_study.png

Each model makes a 5 s base window with the settings a user gets by default (the generate
config's sampler, seed 0); the first row is 5 s of the first held-out piece. The same
figure prints each sample's tonality and, with the notes extra, its note-frame fraction.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.api import Generator
from pianodiff.core.audio import read_audio
from pianodiff.data.dataset import find_audio_files
from pianodiff.measures.notes import NotesUnavailable, note_measures
from pianodiff.measures.tonality import tonality

sys.path.insert(0, str(Path(__file__).parent))
from training_report import plot_spectrograms  # noqa: E402


def note_frames(audio: torch.Tensor) -> float:
    """Note-frame fraction of basic-pitch, or NaN without the notes extra."""
    try:
        return note_measures(audio, SAMPLE_RATE).note_frames
    except NotesUnavailable:
        return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="label=export_dir")
    parser.add_argument("--data", type=Path, default=Path("data/piano14/eval"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    n = int(args.seconds * SAMPLE_RATE)
    real = read_audio(find_audio_files(args.data)[0], SAMPLE_RATE)[:n]
    clips = {"real piano (held out)": real}
    for item in args.models:
        label, sep, path = item.partition("=")
        if not sep:
            parser.error(f"{item!r}: write label=export_dir")
        # The base window alone: 50 ms of continuation is the least generate accepts.
        audio, _ = Generator.from_checkpoint(path, "cpu").generate(0.05, seed=args.seed)
        clips[label] = audio[:n]
    for label, audio in clips.items():
        print(
            f"{label:<32} tonality {float(tonality(audio, SAMPLE_RATE)):.3f}  "
            f"note frames {note_frames(audio):.3f}"
        )
    plot_spectrograms(clips, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
