"""Onset detection by spectral flux with peak picking, and the onset rate.

Spectral flux (Dixon 2006, "Onset detection revisited"; Böck et al. 2012): the sum over
bins of the half-wave rectified increase of the log-compressed magnitude from one frame to
the next. A note onset makes a broadband jump; steady noise or a sustained tone barely
moves it. Peaks are picked where the flux is the local maximum within ±``peak_frames``,
exceeds the local median plus ``delta`` times the mean flux (and an absolute floor), and
lies at least ``min_gap_s`` after the previous onset.
"""

from __future__ import annotations

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.spectral import stft_power
from pianodiff.measures.tonality import running_median


def spectral_flux(
    wave: torch.Tensor, n_fft: int = 1024, hop: int = 256, floor_db: float = -80.0
) -> torch.Tensor:
    """Spectral flux of (T,) audio -> (frames,), frame i the change into frame i.

    Magnitudes are in dB with a floor ``floor_db`` below the loudest bin, so digital
    silence does not turn into huge jumps of log(0).
    """
    power = stft_power(wave.reshape(-1), n_fft, hop).T  # (frames, F)
    db = 10.0 * torch.log10(power.clamp_min(1e-30))
    db = db.clamp_min(float(db.max()) + floor_db)
    rise = (db[1:] - db[:-1]).clamp_min(0.0).mean(dim=-1)
    flux = torch.cat([torch.zeros(1, dtype=rise.dtype), rise])
    # Frames that reach into the centred STFT's reflect padding see a fake change: drop them.
    edge = -(-n_fft // (2 * hop))
    flux[: edge + 1] = 0.0
    flux[max(len(flux) - edge, 0) :] = 0.0
    return flux


def detect_onsets(
    wave: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    hop: int = 256,
    peak_frames: int = 3,
    median_frames: int = 21,
    delta: float = 1.0,
    min_gap_s: float = 0.05,
    min_flux_db: float = 0.5,
) -> torch.Tensor:
    """Onset times in seconds of (T,) audio, shape (N,), float64.

    ``min_flux_db`` is an absolute floor (mean dB rise per bin) so that the tiny wobble of a
    sustained tone is never an onset. Onsets within the first and last ~n_fft/2 samples
    are not detected (padding).
    """
    flux = spectral_flux(wave, hop=hop)
    if flux.numel() < 3 or float(flux.max()) <= 0.0:
        return torch.zeros(0, dtype=torch.float64)
    threshold = running_median(flux, median_frames | 1) + delta * flux.mean()
    threshold = threshold.clamp_min(min_flux_db)
    local_max = running_max(flux, 2 * peak_frames + 1)
    candidates = torch.nonzero((flux >= local_max) & (flux > threshold)).squeeze(1)
    times, last = [], -1e9
    for frame in candidates.tolist():
        t = frame * hop / sample_rate
        if t - last >= min_gap_s:
            times.append(t)
            last = t
    return torch.tensor(times, dtype=torch.float64)


def running_max(x: torch.Tensor, width: int) -> torch.Tensor:
    """Maximum over a centred window of ``width`` (odd) along a 1-D tensor."""
    pad = width // 2
    padded = torch.nn.functional.pad(x.view(1, 1, -1), (pad, pad), value=float("-inf"))
    return torch.nn.functional.max_pool1d(padded, width, stride=1).view(-1)


def onset_rate(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE, **kwargs) -> float:
    """Onsets per second of (T,) audio (0 for empty audio)."""
    seconds = wave.numel() / sample_rate
    if seconds <= 0:
        return 0.0
    return float(len(detect_onsets(wave, sample_rate, **kwargs))) / seconds
