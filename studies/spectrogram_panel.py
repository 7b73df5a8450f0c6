"""Spectrograms of models' samples beside real held-out piano, one row each.

    python -m studies.spectrogram_panel before=checkpoints/piano14-small \\
        framed16_ctx=outputs/net_study/framed16_ctx/export --out docs/img/spectrograms_study.png

Each model makes a 5 s base window with the settings a user gets by default (the generate
config's sampler, seed 0); the first row is 5 s of the first held-out piece. The same
figure prints each sample's tonality and, with the notes extra, its note-frame fraction.
Every export is loaded (and a hostile one refused) before anything runs; a refused request
ends in one line and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.api import Generator
from pianodiff.core.audio import read_audio
from pianodiff.core.errors import USER_ERRORS
from pianodiff.data.dataset import find_audio_files
from pianodiff.measures.notes import NotesUnavailable, note_measures
from pianodiff.measures.tonality import tonality
from studies.training_report import plot_spectrograms


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
    models = [item.partition("=") for item in args.models]
    for item, (_, sep, _) in zip(args.models, models):
        if not sep:
            parser.error(f"{item!r}: write label=export_dir")
    try:
        clips = panel_clips({label: path for label, _, path in models}, args)
        plot_spectrograms(clips, args.out)
    except USER_ERRORS as err:  # a missing or hostile export, no held-out audio, ...
        print(f"error: {err}", file=sys.stderr)
        return 1
    for label, audio in clips.items():
        print(
            f"{label:<32} tonality {float(tonality(audio, SAMPLE_RATE)):.3f}  "
            f"note frames {note_frames(audio):.3f}"
        )
    print(f"wrote {args.out}")
    return 0


def panel_clips(exports: dict[str, str], args: argparse.Namespace) -> dict[str, torch.Tensor]:
    """{label: audio (T,)}: the held-out excerpt, then each export's base window."""
    generators = {label: Generator.from_checkpoint(path, "cpu") for label, path in exports.items()}
    files = find_audio_files(args.data)
    if not files:
        raise FileNotFoundError(f"no audio files in {args.data}; pass --data <audio folder>")
    n = int(args.seconds * SAMPLE_RATE)
    clips = {"real piano (held out)": read_audio(files[0], SAMPLE_RATE)[:n]}
    for label, generator in generators.items():
        # The base window alone: 50 ms of continuation is the least generate accepts.
        audio, _ = generator.generate(0.05, seed=args.seed)
        clips[label] = audio[:n]
    return clips


if __name__ == "__main__":
    raise SystemExit(main())
