"""The hiss floor: how far the background between the partials lies below the partials.

For each STFT frame (n_fft 2048, hop 512, Hann) with signal, the magnitudes of the bins
between 60 Hz and 8 kHz are taken in dB; the frame's hiss is the 20th percentile of them
minus the 99.5th (the floor between the partials against the loudest partials). The hiss
floor is the median over frames. A frame has signal when its in-band power is within
40 dB of the loudest frame's.

Why these numbers: a piano frame has a few dozen strong bins among ~740 in the band, so
the 99.5th percentile sits on the partials and the 20th on what lies between them. Noise
of any colour fills every bin, so both percentiles are close: white noise scores about
−13 dB, pink about −23 dB, rendered piano −62 to −71 dB. A diffusion model that leaves
residual noise under its notes lands in between, and the measure hears it even where the
notes themselves are clear (the transcriber and the tonality measure do not).
"""

from __future__ import annotations

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.spectral import stft_power

N_FFT, HOP = 2048, 512
FMIN, FMAX = 60.0, 8000.0
SIGNAL_RANGE_DB = 40.0  # frames within this much of the loudest frame have signal
FLOOR_PERCENTILE, PEAK_PERCENTILE = 20.0, 99.5
POWER_FLOOR = 1e-30  # keeps log10 finite on digital silence (−300 dB)


def frame_hiss(
    wave: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    hop: int = HOP,
    fmin: float = FMIN,
    fmax: float = FMAX,
    signal_range_db: float = SIGNAL_RANGE_DB,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame hiss in dB and the frames with signal, of (T,) audio.

    Returns:
        ((frames,) float64 floor − peak percentile in dB, (frames,) bool: frame has signal).
    """
    power = stft_power(wave.detach().reshape(-1).cpu(), n_fft, hop, center=False).T
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate).to(power.dtype)
    band = power[:, (freqs >= fmin) & (freqs <= fmax)]  # (frames, bins)
    db = 10.0 * band.clamp_min(POWER_FLOOR).log10()
    q = torch.tensor([FLOOR_PERCENTILE, PEAK_PERCENTILE], dtype=db.dtype) / 100.0
    floor, peak = torch.quantile(db, q, dim=-1)
    frame_power = band.sum(dim=-1)
    loudest = frame_power.max()
    active = (frame_power >= loudest * 10.0 ** (-signal_range_db / 10.0)) & (frame_power > 0)
    return floor - peak, active


def hiss_floor(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE, **kwargs) -> float:
    """The median over frames with signal of the frame hiss (module docstring), in dB.

    More negative is a cleaner background: ≈ −13 dB white noise, −62 to −71 dB rendered
    piano. NaN for silent audio or audio shorter than one frame. Keyword arguments go to
    :func:`frame_hiss`.
    """
    if wave.numel() < kwargs.get("n_fft", N_FFT):
        return float("nan")
    hiss, active = frame_hiss(wave, sample_rate, **kwargs)
    if not bool(active.any()):
        return float("nan")
    return float(torch.quantile(hiss[active], 0.5))
