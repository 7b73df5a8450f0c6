"""Key-following: does a continuation stay in the key of the prompt it continues?

The same passage is played in several keys (0, +3, +6, +9 semitones) and each version is
continued. A continuation *follows* when its pitch-class profile is closer (cosine) to its
own prompt's profile than to the prompt profiles of the passage's other keys. Over many
continuations the share that follow is the top-1 share: chance is 1 / (number of keys), and
the passage's real continuation gives the ceiling (music modulates, so it is below 1).

The profile is what a transcriber hears: basic-pitch's note activations (88 keys, summed
over frames) folded to 12 pitch classes (``transcribe``). Beside the key, the same
transcription gives the register (mean MIDI pitch of the decoded notes) and the density
(notes per second) to compare with the prompt's. The scoring functions take profiles, so
they work with any profile (``measures/pitch_profile.py``'s STFT profile folded to 12
classes too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.note_events import MIDI_OFFSET, decode_notes
from pianodiff.measures.notes import NOTE_THRESHOLD, activations


@dataclass(frozen=True)
class Transcription:
    """What the key measure keeps of one clip.

    Attributes:
        classes: (12,) unit-length pitch-class profile (C = 0); zeros for silence.
        mean_pitch: mean MIDI pitch of the decoded notes (NaN without notes).
        notes_per_s: decoded notes per second.
        note_frames: share of frames with a note activation >= 0.5.
    """

    classes: torch.Tensor
    mean_pitch: float
    notes_per_s: float
    note_frames: float


def classes_from_activations(note: np.ndarray) -> torch.Tensor:
    """(frames, 88) basic-pitch note activations -> (12,) unit pitch-class profile."""
    per_key = torch.as_tensor(np.asarray(note, dtype=np.float64)).sum(dim=0)  # (88,)
    classes = torch.zeros(12, dtype=torch.float64)
    pitch_class = (torch.arange(per_key.numel()) + MIDI_OFFSET) % 12
    classes.index_add_(0, pitch_class, per_key)
    return classes / classes.norm().clamp_min(1e-12)


def transcribe(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> Transcription:
    """The transcriber's pitch-class profile, register and density of (T,) audio.

    Raises:
        NotesUnavailable: the optional transcriber is not installed (``make notes``).
    """
    act = activations(wave, sample_rate)
    note = act["note"]
    events = decode_notes(note, act["onset"])
    seconds = wave.numel() / sample_rate
    pitches = [pitch for _, _, pitch, _ in events]
    frames = note.shape[0]
    return Transcription(
        classes=classes_from_activations(note),
        mean_pitch=float(np.mean(pitches)) if pitches else math.nan,
        notes_per_s=len(events) / seconds if seconds > 0 else math.nan,
        note_frames=float((note.max(axis=1) >= NOTE_THRESHOLD).mean()) if frames else math.nan,
    )


def nearest_key(profile: torch.Tensor, prompts: torch.Tensor) -> int:
    """Index of the prompt profile (K, 12) closest in cosine to ``profile`` (12,)."""
    p = profile.double() / profile.double().norm().clamp_min(1e-12)
    q = prompts.double() / prompts.double().norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return int(torch.argmax(q @ p))


def follows(profile: torch.Tensor, prompts: torch.Tensor, own: int) -> bool:
    """Whether ``profile`` (12,) is closer to ``prompts[own]`` than to every other key's
    prompt (``prompts``: (K, 12), one row per key of the same passage)."""
    return nearest_key(profile, prompts) == own


def top1_share(continuations: torch.Tensor, prompts: torch.Tensor) -> float:
    """Share of continuations that follow: both (P, K, 12) for P passages in K keys, where
    ``continuations[p, k]`` continues ``prompts[p, k]``. Chance is 1 / K."""
    if continuations.shape != prompts.shape or continuations.ndim != 3:
        raise ValueError(
            f"continuations and prompts must both be (passages, keys, 12), got "
            f"{tuple(continuations.shape)} and {tuple(prompts.shape)}"
        )
    passages, keys, _ = prompts.shape
    hits = [
        follows(continuations[p, k], prompts[p], k) for p in range(passages) for k in range(keys)
    ]
    return sum(hits) / len(hits) if hits else math.nan


def rotate_classes(profile: torch.Tensor, semitones: int) -> torch.Tensor:
    """A (…, 12) pitch-class profile moved up by ``semitones`` (class c goes to c + s)."""
    return torch.roll(profile, shifts=int(semitones), dims=-1)
