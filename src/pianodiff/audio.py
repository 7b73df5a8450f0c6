"""Audio files in and out: the only module that reads or writes sound files.

Reading goes through soundfile (its wheel bundles libsndfile: WAV, FLAC, OGG, MP3, Opus);
resampling and mel spectrograms use torchaudio's transforms. Writing is atomic: a temp file
in the destination folder is renamed into place, so a failed run never leaves a half file
or clobbers an existing one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from pianodiff import SAMPLE_RATE

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus")


class AudioError(ValueError):
    """A sound file that cannot be used; the message names the file and the fix."""


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Read a sound file as mono float32 at ``sample_rate``.

    Multi-channel audio is averaged to mono; other rates are resampled.

    Returns:
        waveform of shape (T,), float32.

    Raises:
        AudioError: missing, unreadable, empty, or non-finite audio.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path} (check the path)")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for unreadable input
        raise AudioError(
            f"cannot read {path} as audio ({err.__class__.__name__}); "
            f"use one of {', '.join(AUDIO_EXTENSIONS)}"
        ) from err
    if data.shape[0] == 0:
        raise AudioError(f"{path} holds no samples; give a non-empty recording")
    if not np.isfinite(data).all():
        raise AudioError(f"{path} contains NaN or infinite samples; re-export the file")
    mono = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    return resample(mono, file_rate, sample_rate)


def resample(waveform: torch.Tensor, from_rate: int, to_rate: int) -> torch.Tensor:
    """Resample (..., T) audio with torchaudio's windowed-sinc resampler."""
    if from_rate == to_rate:
        return waveform
    return AF.resample(waveform, int(from_rate), int(to_rate))


def audio_info(path: str | Path) -> tuple[int, float]:
    """(sample rate, duration in seconds) of a sound file, without decoding it all."""
    info = sf.info(str(path))
    return int(info.samplerate), float(info.frames) / float(info.samplerate)


def peak_normalise(waveform: torch.Tensor, peak_db: float = -1.0) -> torch.Tensor:
    """Scale (..., T) audio so its absolute peak is ``peak_db`` dBFS; silence is returned as is."""
    peak = waveform.abs().max()
    if peak <= 0:
        return waveform
    return waveform * (10.0 ** (peak_db / 20.0) / peak)


def write_audio(
    path: str | Path,
    waveform: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    overwrite: bool = True,
    subtype: str = "PCM_16",
) -> Path:
    """Write mono (T,) audio atomically (temp file + rename); samples are clipped to [-1, 1].

    The format follows the suffix (.wav, .flac, .ogg). With ``overwrite=False`` an existing
    file is never replaced.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=true to replace it")
    data = waveform.detach().float().clamp(-1.0, 1.0).cpu().numpy()
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}.get(path.suffix.lower(), "WAV")
    if fmt == "OGG":
        subtype = "VORBIS"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, sample_rate, subtype=subtype, format=fmt)
    return path


class atomic_path:
    """Context manager yielding a temp path beside ``path``; renamed onto it on success.

    On an exception the temp file is removed and ``path`` is left untouched.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=str(self.path.parent)
        )
        os.close(fd)
        # mkstemp creates 0600; give the final file the permissions a plain open() would.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def log_mel(
    waveform: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    n_mels: int = 80,
    n_fft: int = 1024,
    hop_length: int = 256,
) -> torch.Tensor:
    """Log-mel spectrogram of (..., T) audio, shape (..., n_mels, frames), natural log."""
    import torchaudio.transforms as AT

    mel = AT.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0
    ).to(waveform.device)
    return torch.log(mel(waveform.float()) + 1e-5)
