"""A prompt and its continuation: spectrogram beside chromagram, the seam marked.

Two steps, from the repository root:

    python -m studies.continuation_picture prompt data/piano14/eval/mozart_k545_exposition.wav \\
        --start 20 --seconds 6 --out outputs/picture/prompt.wav
    python -m pianodiff.generate prompt=outputs/picture/prompt.wav seconds=10 \\
        output=outputs/picture/continued.wav
    python -m studies.continuation_picture draw outputs/picture/continued.wav \\
        --out docs/img/continuation.png

``prompt`` cuts an excerpt of a (held-out) recording to continue; ``draw`` reads what
``generate`` wrote (the audio and its JSON sidecar: where the prompt ends, the later seams,
the harmony strength) and draws the log-mel spectrogram and the chromagram (12 pitch
classes per frame, each frame scaled to its own peak) side by side, the end of the prompt
as a solid line and every later window seam dotted. A missing or unreadable file ends in one
line and exit status 1; the picture is written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import log_mel, read_audio, read_audio_range, write_audio
from pianodiff.measures.chroma import pitch_class_matrix
from pianodiff.measures.spectral import stft_power

CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
CHROMA_N_FFT, CHROMA_HOP = 4096, 512


def chromagram(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(T,) audio -> (12, frames) chroma, each frame scaled to a peak of 1 (0 for silence)."""
    power = stft_power(wave.double(), CHROMA_N_FFT, CHROMA_HOP)  # (F, frames)
    per_frame = (pitch_class_matrix(CHROMA_N_FFT, sample_rate) @ power).sqrt()
    return per_frame / per_frame.amax(dim=0, keepdim=True).clamp_min(1e-12)


def read_generated(path: Path) -> tuple[torch.Tensor, dict]:
    """A ``generate`` output and its sidecar (``<name>.json`` beside it)."""
    sidecar = path.with_suffix(".json")
    for needed in (path, sidecar):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed} not found: draw a file that generate wrote")
    meta = json.loads(sidecar.read_text())
    if "prompt_seconds" not in meta or "seams_seconds" not in meta:
        raise ValueError(f"{sidecar} is not a generate sidecar (no prompt_seconds/seams)")
    return read_audio(path, SAMPLE_RATE), meta


def draw(audio: torch.Tensor, meta: dict, out: Path, title: str | None = None) -> Path:
    """The two panels of (T,) ``audio`` with the seams of ``meta`` marked, written to
    ``out`` (atomically: a partial file is renamed into place)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = SAMPLE_RATE
    seconds = audio.numel() / sr
    cut = float(meta["prompt_seconds"])
    later = [s for s in meta["seams_seconds"] if s > cut + 1e-3]
    mel = log_mel(audio.float(), sr).numpy()
    chroma = chromagram(audio, sr).numpy()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6), constrained_layout=True)
    left.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0]))
    left.set(title="log-mel spectrogram", xlabel="seconds", ylabel="mel band")
    right.imshow(
        chroma, origin="lower", aspect="auto", extent=(0, seconds, -0.5, 11.5), cmap="magma"
    )
    right.set(title="chromagram", xlabel="seconds", yticks=range(12), yticklabels=CLASS_NAMES)
    for ax in (left, right):
        ax.axvline(cut, color="white", linewidth=2.0)
        for seam in later:
            ax.axvline(seam, color="white", linewidth=1.0, linestyle=":")
    left.text(cut, mel.shape[0] * 0.97, " ← prompt | new →", color="white", va="top")
    harmony = (meta.get("harmony") or {}).get("strength")
    fig.suptitle(
        title
        or f"{Path(meta.get('prompt') or 'prompt').name} continued by {meta.get('extender')}, "
        f"{meta.get('sampler')}, harmony.strength={harmony}, seed {meta.get('seed')}"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.png")
    fig.savefig(partial, dpi=72)
    plt.close(fig)
    partial.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    cut = steps.add_parser("prompt", help="cut an excerpt of a recording to continue")
    cut.add_argument("recording", type=Path)
    cut.add_argument("--start", type=float, default=0.0, help="seconds into the recording")
    cut.add_argument("--seconds", type=float, default=6.0, help="length of the prompt")
    cut.add_argument("--out", type=Path, required=True, help="the prompt .wav to write")
    pic = steps.add_parser("draw", help="draw a generate output (with its sidecar)")
    pic.add_argument("generated", type=Path)
    pic.add_argument("--out", type=Path, required=True, help="the .png to write")
    pic.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    try:
        if args.step == "prompt":
            if not args.recording.is_file():
                raise FileNotFoundError(f"{args.recording} not found")
            if args.seconds <= 0 or args.start < 0:
                raise ValueError("--seconds must be > 0 and --start >= 0")
            wave = read_audio_range(args.recording, args.start, args.start + args.seconds)
            if wave.numel() < round(args.seconds * SAMPLE_RATE) - 1:
                end = args.start + wave.numel() / SAMPLE_RATE
                raise ValueError(f"{args.recording} ends at {end:.1f} s; lower --start")
            write_audio(args.out, wave, SAMPLE_RATE, overwrite=False)
        else:
            audio, meta = read_generated(args.generated)
            draw(audio, meta, args.out, args.title)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
