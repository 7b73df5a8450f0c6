"""Recordings -> the training format, once: mono, 22050 Hz, trimmed, -1 dBFS peak, 16-bit WAV.

Training reads the converted folder directly, so it never resamples or mixes down on every
step. The same finishing step (:func:`to_training_format`) is applied to rendered scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import (
    AUDIO_EXTENSIONS,
    AudioError,
    peak_normalise,
    read_audio,
    write_audio,
)

TRIM_DB = -60.0
PEAK_DB = -1.0


def trim_silence(wav: torch.Tensor, threshold_db: float = TRIM_DB) -> torch.Tensor:
    """Cut (T,) audio before the first and after the last sample above peak + threshold_db.

    The threshold is relative to the file's own peak, so quiet recordings are not emptied.
    """
    peak = wav.abs().max() if wav.numel() else torch.tensor(0.0)
    if peak <= 0:
        return wav[:0]
    loud = torch.nonzero(wav.abs() > peak * 10.0 ** (threshold_db / 20.0)).flatten()
    return wav[int(loud[0]) : int(loud[-1]) + 1]


def to_training_format(wav: torch.Tensor, max_seconds: float | None = None) -> torch.Tensor:
    """(T,) mono float at SAMPLE_RATE -> trimmed, optionally shortened, -1 dBFS peak.

    Raises:
        AudioError: the audio is silent.
    """
    wav = trim_silence(wav)
    if max_seconds is not None:
        wav = trim_silence(wav[: int(max_seconds * SAMPLE_RATE)])
    if wav.numel() == 0:
        raise AudioError("the audio is silent (nothing above -60 dB); leave this file out")
    return peak_normalise(wav, PEAK_DB)


@dataclass
class ConvertReport:
    """What a folder conversion did: written and up-to-date outputs, and failures."""

    converted: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0


def find_audio(src: Path) -> list[Path]:
    """All audio files under ``src`` (recursively), sorted for a stable order."""
    return sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def output_paths(src: Path, dst: Path, files: list[Path]) -> dict[Path, Path]:
    """Each source's WAV path in ``dst``, mirroring sub-folders.

    ``a.mp3`` and ``a.flac`` in one folder would both become ``a.wav``; the later ones keep
    their format in the name (``a_flac.wav``) so nothing is overwritten.
    """
    taken: set[Path] = set()
    out: dict[Path, Path] = {}
    for f in files:
        rel = f.relative_to(src)
        target = dst / rel.with_suffix(".wav")
        if target in taken:
            target = dst / rel.with_name(f"{rel.stem}_{rel.suffix.lstrip('.').lower()}.wav")
        taken.add(target)
        out[f] = target
    return out


def convert_file(src: Path, dst: Path) -> float:
    """Convert one file to the training format at ``dst`` (atomic); returns its seconds."""
    wav = to_training_format(read_audio(src, SAMPLE_RATE))
    write_audio(dst, wav, SAMPLE_RATE, subtype="PCM_16")
    return wav.numel() / SAMPLE_RATE


def convert_folder(src: str | Path, dst: str | Path, on_file=None) -> ConvertReport:
    """Convert every audio file under ``src`` into ``dst``.

    An output newer than its source is kept (so a second run only converts new files).
    Unreadable or silent files are recorded in ``report.failed`` and the batch goes on.
    ``on_file(path)`` is called after each file (for a progress bar).

    Raises:
        AudioError: ``src`` is not a folder.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise AudioError(f"source folder not found: {src} (give a folder of audio files)")
    if dst.resolve() == src.resolve():
        raise AudioError(f"destination {dst} is the source folder; give a new folder")
    report = ConvertReport()
    files = find_audio(src)
    for f, target in output_paths(src, dst, files).items():
        try:
            if target.is_file() and target.stat().st_mtime >= f.stat().st_mtime:
                report.skipped.append(target)
            else:
                report.seconds += convert_file(f, target)
                report.converted.append(target)
        except (AudioError, OSError, RuntimeError) as err:
            report.failed.append((f, str(err)))
        if on_file is not None:
            on_file(f)
    return report
