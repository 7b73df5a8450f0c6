"""The transcriber-based note measure, calibrated on real and synthetic audio.

Measured figures (5 s clips, this machine): white and pink noise 0.000 note frames (0-0.2
notes/s), the decaying two-note chord of the fixtures 0.85 with its 10 notes found at the
right pitches; the tolerances below leave a wide margin around those and stay far apart.
"""

from __future__ import annotations

import importlib.util
import logging
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SR, tone
from system_parts import needs_synth
from test_tonality import coloured_noise

from pianodiff.data.render import Synth, render_piece, resolve_soundfont
from pianodiff.measures import notes
from pianodiff.measures.note_events import decode_notes
from pianodiff.measures.notes import (
    NotesUnavailable,
    activations,
    note_measures,
    note_metrics,
    unavailable_reason,
)

needs_notes = pytest.mark.skipif(
    unavailable_reason() is not None, reason="the notes extra is not installed (make notes)"
)


@pytest.fixture
def no_extra(monkeypatch):
    """Make basic-pitch look uninstalled, as on a plain install."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "basic_pitch" else real(name)
    )
    notes._say_off.cache_clear()
    yield
    notes._say_off.cache_clear()


@needs_notes
@pytest.mark.parametrize("exponent", [0.0, 1.0], ids=["white", "pink"])
def test_noise_has_no_notes(exponent):
    for seed in (0, 1):
        m = note_measures(coloured_noise(5.0, exponent, seed))
        assert m.frames == math.floor(5 * SR * 86 / SR)
        assert m.note_frames <= 0.05, m
        assert m.notes_per_s <= 1.0, m


@needs_notes
def test_piano_like_chord_is_heard_at_the_right_pitches():
    wave = torch.from_numpy(tone(5.0))  # A3 + E4 (220, 330 Hz), struck every second
    m = note_measures(wave)
    assert m.note_frames >= 0.6, m
    act = activations(wave)
    assert act["note"].shape == (430, 88) and act["contour"].shape == (430, 264)
    events = decode_notes(act["note"], act["onset"])
    assert {pitch for _, _, pitch, _ in events} == {57, 64}
    starts = sorted({round(start / 86.13) for start, _, _, _ in events})
    assert starts == [0, 1, 2, 3, 4]
    assert m.notes == len(events) == 10 and m.notes_per_s == pytest.approx(2.0)


@needs_notes
def test_other_sample_rates_are_resampled_first():
    at_22k = note_measures(torch.from_numpy(tone(3.0)))
    at_44k = note_measures(torch.from_numpy(tone(3.0, sr=44100)), 44100)
    assert abs(at_22k.note_frames - at_44k.note_frames) < 0.05
    assert at_22k.notes == at_44k.notes


@needs_notes
@needs_synth
@pytest.mark.slow
def test_rendered_piano_is_mostly_note_frames(tmp_path):
    wav = tmp_path / "bach.wav"
    render_piece("bach/bwv846.mxl", wav, Synth(resolve_soundfont("musescore")), measures=2)
    audio, sr = sf.read(str(wav), dtype="float32")
    m = note_measures(torch.from_numpy(audio), sr)
    assert m.note_frames >= 0.6, m
    assert m.notes_per_s >= 2.0, m  # a prelude of broken chords: many notes a second


@needs_notes
@pytest.mark.slow
def test_same_activations_and_notes_as_basic_pitch_itself(tmp_path, caplog):
    """The thin framing and the numpy decoder reproduce basic-pitch's own inference."""
    logging.disable(logging.WARNING)  # basic_pitch warns on import about TF/CoreML/TFLite
    try:
        from basic_pitch import note_creation
        from basic_pitch.inference import Model, run_inference
    finally:
        logging.disable(logging.NOTSET)
    # 5 s of piano-like chord then pink noise: more than two model windows, both kinds.
    wave = np.concatenate([tone(3.0, (261.6, 392.0)), coloured_noise(2.0, 1.0).numpy()])
    path = tmp_path / "clip.wav"
    sf.write(path, wave, SR, subtype="FLOAT")
    theirs = run_inference(path, Model(notes.model_path()))
    ours = activations(torch.from_numpy(wave))
    for key in ("note", "onset", "contour"):
        assert ours[key].shape == theirs[key].shape
        assert np.allclose(ours[key], theirs[key], atol=1e-6), key
    reference = note_creation.output_to_notes_polyphonic(
        theirs["note"].copy(), theirs["onset"].copy(), 0.5, 0.3, 11, True, None, None, True
    )
    mine = decode_notes(ours["note"], ours["onset"])
    assert len(mine) == len(reference) > 0
    for a, b in zip(mine, reference):
        assert a[:3] == tuple(int(v) for v in b[:3]) and a[3] == pytest.approx(b[3], abs=1e-6)


def test_missing_extra_fails_loudly_in_one_line(no_extra):
    with pytest.raises(NotesUnavailable) as err:
        note_measures(torch.zeros(SR))
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert "'notes' extra" in message and "make notes" in message


def test_missing_extra_turns_the_logged_measure_off_with_one_line(no_extra, caplog):
    with caplog.at_level(logging.WARNING, logger="pianodiff.measures.notes"):
        assert note_metrics(torch.zeros(SR)) == {}
        assert note_metrics(torch.zeros(SR), prefix="demo/") == {}
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("note measure off:") and "make notes" in lines[0]
