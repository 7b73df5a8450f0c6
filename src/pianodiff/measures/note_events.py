"""Note events from basic-pitch's activations: its own note-creation algorithm, in numpy.

A port of ``basic_pitch.note_creation.output_to_notes_polyphonic`` (basic-pitch 0.4,
Apache-2.0) with the defaults of its ``predict``: onset threshold 0.5, frame threshold 0.3,
notes longer than 11 frames (127.7 ms), onsets also inferred from rises of the frame
activation, and the "melodia trick" (notes grown from the strongest leftover activation).
It lives here so the measure never imports ``basic_pitch`` (whose package tries TensorFlow
on import); tests/test_notes.py checks that both give the same events.

One deliberate difference: where the frame activations never rise (e.g. silence),
basic-pitch rescales the inferred onsets by 0/0 and gets NaN; here they are left out.
"""

from __future__ import annotations

import numpy as np

FRAMES_PER_SECOND = 22050 / 256  # 86.13 activation frames per second
MIDI_OFFSET = 21  # key 0 is A0
ONSET_THRESHOLD = 0.5
FRAME_THRESHOLD = 0.3
MIN_NOTE_FRAMES = 11  # round(127.70 ms · 86.13 frames/s)
ENERGY_TOLERANCE = 11  # frames below the frame threshold before a note ends


def inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray:
    """(N, 88) onsets, raised where the frame activation jumps over ``n_diff`` frames."""
    diffs = []
    for n in range(1, n_diff + 1):
        padded = np.concatenate([np.zeros((n, frames.shape[1])), frames])
        diffs.append(padded[n:, :] - padded[:-n, :])
    rise = np.min(diffs, axis=0)
    rise[rise < 0] = 0
    rise[:n_diff, :] = 0
    if np.max(rise) <= 0:
        return onsets
    rise = np.max(onsets) * rise / np.max(rise)  # the same peak height as the onsets
    return np.max([onsets, rise], axis=0)


def _local_maxima(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(time, key) indices of strict maxima along time, ends excluded (scipy's argrelmax)."""
    inner = (x[1:-1] > x[:-2]) & (x[1:-1] > x[2:])
    t, k = np.nonzero(inner)
    return t + 1, k


def _clear(energy: np.ndarray, rows, key: int) -> None:
    """Zero ``energy`` at ``rows`` of ``key`` and its two neighbours (no double notes)."""
    energy[rows, key] = 0
    if key < energy.shape[1] - 1:
        energy[rows, key + 1] = 0
    if key > 0:
        energy[rows, key - 1] = 0


def decode_notes(
    frames: np.ndarray,
    onsets: np.ndarray,
    onset_threshold: float = ONSET_THRESHOLD,
    frame_threshold: float = FRAME_THRESHOLD,
    min_note_frames: int = MIN_NOTE_FRAMES,
    energy_tolerance: int = ENERGY_TOLERANCE,
    melodia_trick: bool = True,
) -> list[tuple[int, int, int, float]]:
    """Note events from (N, 88) frame and onset activations.

    Returns:
        [(start frame, end frame, MIDI pitch, mean frame activation)], onset-started notes
        latest first, then those the melodia trick found.
    """
    frames = np.asarray(frames, dtype=np.float64)
    onsets = inferred_onsets(np.asarray(onsets, dtype=np.float64), frames)
    n_frames = frames.shape[0]
    peak = np.zeros_like(onsets)
    t_max, k_max = _local_maxima(onsets)
    peak[t_max, k_max] = onsets[t_max, k_max]
    t_on, k_on = np.nonzero(peak >= onset_threshold)
    energy = frames.copy()
    events: list[tuple[int, int, int, float]] = []
    for start, key in zip(t_on[::-1], k_on[::-1]):  # backwards in time
        if start >= n_frames - 1:
            continue
        i, below = start + 1, 0
        while i < n_frames - 1 and below < energy_tolerance:
            below = below + 1 if energy[i, key] < frame_threshold else 0
            i += 1
        i -= below  # back to the last frame above the threshold
        if i - start <= min_note_frames:
            continue
        _clear(energy, slice(start, i), key)
        events.append(
            (int(start), int(i), int(key) + MIDI_OFFSET, float(frames[start:i, key].mean()))
        )
    if not melodia_trick:
        return events
    while np.max(energy) > frame_threshold:
        mid, key = np.unravel_index(np.argmax(energy), energy.shape)
        energy[mid, key] = 0
        i, below = mid + 1, 0
        while i < n_frames - 1 and below < energy_tolerance:
            below = below + 1 if energy[i, key] < frame_threshold else 0
            _clear(energy, i, key)
            i += 1
        end = i - 1 - below
        i, below = mid - 1, 0
        while i > 0 and below < energy_tolerance:
            below = below + 1 if energy[i, key] < frame_threshold else 0
            _clear(energy, i, key)
            i -= 1
        begin = i + 1 + below
        if end - begin <= min_note_frames:
            continue
        events.append(
            (int(begin), int(end), int(key) + MIDI_OFFSET, float(frames[begin:end, key].mean()))
        )
    return events
