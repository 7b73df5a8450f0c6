"""The transposition set of the key-following measure: held-out pieces rendered in four keys.

Each held-out score of piano14 (``data/piano14.py``, split "eval") is rendered through the
same FluidSynth pipeline as the training data (``data/render.py``), once per key shift
(0, +3, +6, +9 semitones by default): the MIDI notes are moved, not the audio, so every key
is real piano with the same timing. Files are ``<out>/<piece_id>_+<shift>.wav``; finished
ones are kept, so the set is rendered once (about 3 s of rendering per minute of music).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mido

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import read_audio, write_audio
from pianodiff.data.convert import to_training_format
from pianodiff.data.piano14 import PIANO14, Piece
from pianodiff.data.render import (
    Synth,
    load_score,
    prepare_score,
    resolve_soundfont,
    score_to_midi,
    synthesise,
)

DEFAULT_SHIFTS = (0, 3, 6, 9)
DRUM_CHANNEL = 9


def key_file(out: str | Path, piece_id: str, shift: int) -> Path:
    """Where the rendering of ``piece_id`` moved by ``shift`` semitones lies."""
    return Path(out) / f"{piece_id}_+{int(shift)}.wav"


def transpose_midi(path: Path, shift: int) -> None:
    """Move every note of a MIDI file by ``shift`` semitones, in place (drums untouched)."""
    mid = mido.MidiFile(str(path))
    for track in mid.tracks:
        for k, msg in enumerate(track):
            if msg.type in ("note_on", "note_off") and msg.channel != DRUM_CHANNEL:
                note = msg.note + int(shift)
                if not 0 <= note <= 127:
                    raise ValueError(f"a note moved by {shift} leaves the MIDI range: {note}")
                track[k] = msg.copy(note=note)
    mid.save(str(path))


def render_in_key(
    piece: Piece,
    shift: int,
    out_path: str | Path,
    synth: Synth,
    measures: int | None = None,
) -> float:
    """Render ``piece`` moved by ``shift`` semitones to a training-format WAV; its seconds."""
    score = prepare_score(load_score(piece.corpus_path, measures), piece.bpm)
    with tempfile.TemporaryDirectory(prefix="pianodiff-keys-") as tmp:
        midi_path, raw_path = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        score_to_midi(score, midi_path)
        transpose_midi(midi_path, shift)
        synthesise(midi_path, raw_path, synth)
        wav = to_training_format(read_audio(raw_path, SAMPLE_RATE))
    write_audio(out_path, wav, SAMPLE_RATE, subtype="PCM_16")  # atomic
    return wav.numel() / SAMPLE_RATE


def held_out_pieces() -> list[Piece]:
    """The held-out (split "eval") pieces of piano14."""
    return [p for p in PIANO14 if p.split == "eval"]


def ensure_key_set(
    out: str | Path,
    shifts: tuple[int, ...] | list[int] = DEFAULT_SHIFTS,
    pieces: list[Piece] | None = None,
    soundfont: str = "musescore",
    measures: int | None = None,
) -> dict[tuple[str, int], Path]:
    """Render what is missing of the set; {(piece_id, shift): path} of every file."""
    pieces = held_out_pieces() if pieces is None else pieces
    files = {}
    synth = None
    for piece in pieces:
        for shift in shifts:
            path = key_file(out, piece.piece_id, shift)
            if not path.is_file():
                synth = synth or Synth(resolve_soundfont(soundfont))
                path.parent.mkdir(parents=True, exist_ok=True)
                render_in_key(piece, shift, path, synth, measures)
            files[(piece.piece_id, int(shift))] = path
    return files
