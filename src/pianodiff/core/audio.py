"""Audio files in and out: the only module that reads or writes sound files.

Reading goes through soundfile (its wheel bundles libsndfile: WAV, FLAC, OGG, MP3, Opus);
resampling and mel spectrograms use torchaudio's transforms. Writing is atomic: a temp file
in the destination folder is renamed into place, so a failed run never leaves a half file
or clobbers an existing one (``safe_writes.atomic_path``, which also removes the temps of
killed writers).

``read_audio_range`` / ``read_audio_tail`` decode only the frames asked for (soundfile
seeks), so conditioning on the last seconds of a long recording costs those seconds only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from pianodiff import SAMPLE_RATE
from pianodiff.core.errors import UserError
from pianodiff.core.safe_writes import atomic_path  # the atomic write every writer here uses

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus")


class AudioError(UserError):
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


# Samples at the file's rate read beyond a range's edges, so that the windowed-sinc
# resampler sees real neighbours there; trimmed after resampling.
_RESAMPLE_MARGIN = 64


def read_audio_range(
    path: str | Path,
    start_seconds: float = 0.0,
    stop_seconds: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> torch.Tensor:
    """The [start, stop) seconds of a sound file as mono float32 at ``sample_rate``.

    Only those frames (plus a few for the resampler) are decoded: the file is opened and
    seeked, never read whole. The samples are those of ``read_audio(path)[a:b]`` with
    a, b = round(start · sample_rate), round(stop · sample_rate), cut to the file;
    ``stop_seconds=None`` reads to the end.

    Returns:
        waveform of shape (T,), float32, T = b − a.

    Raises:
        AudioError: missing, unreadable, empty (no frames at all), or non-finite audio.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path} (check the path)")
    try:
        with sf.SoundFile(str(path)) as fh:
            rate, frames = int(fh.samplerate), int(fh.frames)
            # Work on the output grid: sample k of a whole read sits at input time k / sr.
            total = math.ceil(frames * sample_rate / rate)
            a = min(total, max(0, round(start_seconds * sample_rate)))
            b = total if stop_seconds is None else round(stop_seconds * sample_rate)
            b = max(a, min(total, b))
            margin = 0 if rate == sample_rate else _RESAMPLE_MARGIN
            # Start on a frame that is also an output sample (a multiple of rate / gcd), so
            # the resampled block lies on the same grid as a whole-file read.
            step = rate // math.gcd(rate, sample_rate)
            lo = max(0, (a * rate // sample_rate - margin) // step * step)
            hi = min(frames, math.ceil(b * rate / sample_rate) + margin)
            if fh.seekable():
                fh.seek(lo)
            else:  # a stream without seeking: skip what comes before the range
                fh.read(lo, dtype="float32", always_2d=True)
            data = fh.read(hi - lo, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for unreadable input
        raise AudioError(
            f"cannot read {path} as audio ({err.__class__.__name__}); "
            f"use one of {', '.join(AUDIO_EXTENSIONS)}"
        ) from err
    if frames == 0:
        raise AudioError(f"{path} holds no samples; give a non-empty recording")
    if not np.isfinite(data).all():
        raise AudioError(f"{path} contains NaN or infinite samples; re-export the file")
    mono = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    out = resample(mono, rate, sample_rate)
    head = lo * sample_rate // rate  # exact: lo lies on the grid
    return out[a - head : b - head].contiguous()


def read_audio_tail(
    path: str | Path, seconds: float, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """The last ``seconds`` of a sound file (all of it when shorter), mono float32 (T,) at
    ``sample_rate``: ``read_audio(path)[-n:]`` with n = round(seconds · sample_rate), decoding
    only that tail (``read_audio_range``)."""
    rate, duration = _info(path)
    total = math.ceil(round(duration * rate) * sample_rate / rate)
    start = max(0, total - round(seconds * sample_rate))
    return read_audio_range(path, start / sample_rate, None, sample_rate)


def _info(path: str | Path) -> tuple[int, float]:
    if not Path(path).is_file():
        raise AudioError(f"audio file not found: {path} (check the path)")
    try:
        return audio_info(path)
    except Exception as err:
        raise AudioError(
            f"cannot read {path} as audio ({err.__class__.__name__}); "
            f"use one of {', '.join(AUDIO_EXTENSIONS)}"
        ) from err


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
