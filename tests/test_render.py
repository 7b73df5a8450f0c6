"""Score rendering: the music21 fixes, the MIDI channels, and a real FluidSynth render."""

from __future__ import annotations

import mido
import numpy as np
import pytest
import soundfile as sf
from music21 import bar, clef, instrument, meter, note, stream, tempo
from system_parts import needs_synth

from pianodiff.data.render import (
    DRUM_CHANNEL,
    RenderError,
    Synth,
    check_synth,
    prepare_score,
    render_piece,
    resolve_soundfont,
    score_to_midi,
)

PEAK_16 = round(10 ** (-1 / 20) * 32767)  # -1 dBFS in 16-bit


def _part(notes: list[str], inst=None, percussion: bool = False) -> stream.Part:
    part = stream.Part()
    if inst is not None:
        part.insert(0, inst)
    m = stream.Measure(number=1)
    m.append(meter.TimeSignature("4/4"))
    if percussion:
        m.append(clef.PercussionClef())
        for _ in range(4):
            m.append(note.Unpitched(quarterLength=1))
    else:
        for n in notes:
            m.append(note.Note(n, quarterLength=1))
    part.append(m)
    return part


def _score(*parts: stream.Part) -> stream.Score:
    score = stream.Score()
    for p in parts:
        score.insert(0, p)
    return score


def test_transposing_part_sounds_at_concert_pitch_and_percussion_is_dropped():
    clarinet = _part(["D4", "E4", "F#4", "G4"], instrument.Clarinet())  # B-flat clarinet
    clarinet.atSoundingPitch = False
    drums = _part([], instrument.BassDrum(), percussion=True)
    flute = _part(["C5", "D5", "E5", "F5"], instrument.Flute())
    score = prepare_score(_score(clarinet, drums, flute))

    assert len(score.parts) == 2, "the percussion part must be dropped"
    sounding = [n.pitch.nameWithOctave for n in score.parts[0].recurse().notes]
    assert sounding == ["C4", "D4", "E4", "F4"], "written D4 on a B-flat clarinet sounds C4"
    for part in score.parts:
        insts = list(part.recurse().getElementsByClass(instrument.Instrument))
        assert [type(i) for i in insts] == [instrument.Piano]


def test_no_numeric_tempo_plays_at_120_and_override_wins():
    text_only = _part(["C4", "D4", "E4", "F4"])
    text_only.measure(1).insert(0, tempo.TempoText("Andante"))
    marks = prepare_score(_score(text_only)).recurse().getElementsByClass(tempo.MetronomeMark)
    assert [m.number for m in marks] == [120]

    # A metronome mark without a number, or with one music21 guessed from a word, is no tempo.
    for mark in (tempo.MetronomeMark(), tempo.MetronomeMark(text="Allegro")):
        part = _part(["C4", "D4", "E4", "F4"])
        part.measure(1).insert(0, mark)
        got = prepare_score(_score(part)).recurse().getElementsByClass(tempo.MetronomeMark)
        assert [m.number for m in got] == [120]

    # A tempo only in MusicXML's <sound tempo=...> (numberSounding) is a numeric tempo.
    sounding = _part(["C4", "D4", "E4", "F4"])
    sounding.measure(1).insert(0, tempo.MetronomeMark(numberSounding=72))
    got = prepare_score(_score(sounding)).recurse().getElementsByClass(tempo.MetronomeMark)
    assert [m.getQuarterBPM() for m in got] == [72]

    numeric = _part(["C4", "D4", "E4", "F4"])
    numeric.measure(1).insert(0, tempo.MetronomeMark(number=90))
    kept = prepare_score(_score(numeric)).recurse().getElementsByClass(tempo.MetronomeMark)
    assert [m.number for m in kept] == [90]
    forced = prepare_score(_score(numeric), bpm=60).recurse()
    assert [m.number for m in forced.getElementsByClass(tempo.MetronomeMark)] == [60]


def test_repeats_are_expanded():
    part = _part(["C4", "D4", "E4", "F4"])
    part.measure(1).leftBarline = bar.Repeat(direction="start")
    part.measure(1).rightBarline = bar.Repeat(direction="end")
    score = prepare_score(_score(part))
    assert len(score.parts[0].recurse().notes) == 8


def test_every_part_gets_its_own_channel_program_zero_never_drums(tmp_path):
    # Eleven unison parts: more than channel 10 allows, and same pitches on each.
    parts = [_part(["C4", "C4", "C4", "C4"], instrument.Violin()) for _ in range(11)]
    score = prepare_score(_score(*parts))
    midi = tmp_path / "x.mid"
    score_to_midi(score, midi)
    tracks = [t for t in mido.MidiFile(str(midi)).tracks if any(m.type == "note_on" for m in t)]
    channels = [{m.channel for m in t if m.type == "note_on"} for t in tracks]
    assert len(tracks) == 11
    assert all(len(c) == 1 for c in channels)
    flat = [c.pop() for c in channels]
    assert len(set(flat)) == 11 and DRUM_CHANNEL not in flat
    programs = [m.program for t in tracks for m in t if m.type == "program_change"]
    assert programs == [0] * 11


def test_missing_fluidsynth_or_soundfont_names_the_install_command(tmp_path):
    with pytest.raises(RenderError, match="apt-get install -y fluidsynth"):
        check_synth(Synth(soundfont=tmp_path, fluidsynth=str(tmp_path / "no-fluidsynth")))
    with pytest.raises(RenderError, match="soundfont not found.*install_system_deps.sh"):
        resolve_soundfont(str(tmp_path / "missing.sf3"))


@needs_synth
@pytest.mark.slow
def test_render_few_bars_end_to_end_is_byte_identical(tmp_path):
    synth = Synth(resolve_soundfont("musescore"))
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    seconds = render_piece("bach/bwv846.mxl", first, synth, measures=2)
    render_piece("bach/bwv846.mxl", second, synth, measures=2)

    info = sf.info(str(first))
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert 2.0 < seconds < 20.0 and info.frames == round(seconds * 22050)
    data, _ = sf.read(str(first), dtype="int16")
    assert abs(int(np.abs(data.astype(np.int32)).max()) - PEAK_16) <= 1
    # trimmed at -60 dB below the peak: the first and last samples are audible
    threshold = PEAK_16 * 10 ** (-60 / 20)
    assert abs(int(data[0])) > threshold * 0.5 and abs(int(data[-1])) > threshold * 0.5
    assert first.read_bytes() == second.read_bytes(), "rebuilds must be byte-identical"
    assert not list(tmp_path.glob(".*.tmp")), "no temp files left behind"
