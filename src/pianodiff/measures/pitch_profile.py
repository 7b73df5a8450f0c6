"""A differentiable pitch profile: STFT energy folded onto the 128 MIDI note numbers.

Per STFT frame (Hann, 4096 points: 5.4 Hz bins at 22.05 kHz) the power of every bin between
``fmin`` and ``fmax`` is added to the MIDI number nearest its frequency (A4 = 440 Hz = 69);
each note's frame energy is square-rooted (so a loud chord does not drown the rest) and the
frames are averaged. The result is normalised to unit length, so two profiles compare by
their dot product (cosine). Unlike 12-bin chroma the octave is kept: a profile says which
notes sound, in which register. ``fold_to_classes`` gives the 12 pitch classes back.

The default band, 60 Hz to 2.1 kHz (about B♭1 to C7), holds the fundamentals of most piano
writing and few of the upper overtones, which would otherwise smear every note over its
fifth and third. Everything is torch and differentiable, so a gradient of a profile's
cosine with a target can steer audio towards it (``inpaint/harmony.py``).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from pianodiff import SAMPLE_RATE

MIDI_NOTES = 128
PROFILE_FMIN = 60.0
PROFILE_FMAX = 2100.0
PROFILE_N_FFT = 4096
PROFILE_HOP = 1024
ENERGY_FLOOR = 1e-10  # keeps the square root's gradient finite where a note is silent


@lru_cache(maxsize=8)
def midi_matrix(
    n_fft: int = PROFILE_N_FFT,
    sample_rate: int = SAMPLE_RATE,
    fmin: float = PROFILE_FMIN,
    fmax: float = PROFILE_FMAX,
) -> torch.Tensor:
    """(128, n_fft // 2 + 1) float32 0/1 map from STFT bins to MIDI note numbers."""
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate).to(torch.float64)
    matrix = torch.zeros(MIDI_NOTES, len(freqs), dtype=torch.float32)
    inside = (freqs >= fmin) & (freqs <= fmax)
    midi = torch.round(69.0 + 12.0 * torch.log2(freqs[inside] / 440.0)).long()
    keep = (midi >= 0) & (midi < MIDI_NOTES)
    columns = torch.nonzero(inside).squeeze(1)[keep]
    matrix[midi[keep], columns] = 1.0
    return matrix


def pitch_profile(
    wave: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = PROFILE_N_FFT,
    hop: int = PROFILE_HOP,
    fmin: float = PROFILE_FMIN,
    fmax: float = PROFILE_FMAX,
) -> torch.Tensor:
    """Unit-length pitch profile of (..., T) audio -> (..., 128), differentiable.

    Computed in the input's floating dtype (float32 stays float32); audio shorter than
    ``n_fft`` is zero-padded to one frame.
    """
    x = wave if wave.is_floating_point() else wave.float()
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    if flat.shape[-1] < n_fft:
        flat = torch.nn.functional.pad(flat, (0, n_fft - flat.shape[-1]))
    window = torch.hann_window(n_fft, dtype=flat.dtype, device=flat.device)
    spec = torch.stft(flat, n_fft, hop, window=window, center=False, return_complex=True)
    power = spec.real.square() + spec.imag.square()  # (N, F, frames)
    matrix = midi_matrix(n_fft, sample_rate, fmin, fmax).to(flat.device, flat.dtype)
    per_frame = torch.einsum("mf,nfk->nmk", matrix, power)
    vec = (per_frame + ENERGY_FLOOR).sqrt().mean(dim=-1)
    vec = vec / vec.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return vec.reshape(*lead, MIDI_NOTES)


def fold_to_classes(profile: torch.Tensor) -> torch.Tensor:
    """(..., 128) MIDI profile -> (..., 12) pitch classes (C = 0), unit length."""
    padded = torch.nn.functional.pad(profile, (0, 12 * 11 - MIDI_NOTES))
    classes = padded.reshape(*profile.shape[:-1], 11, 12).sum(dim=-2)
    return classes / classes.norm(dim=-1, keepdim=True).clamp_min(1e-12)
