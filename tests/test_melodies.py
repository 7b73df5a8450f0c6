"""The melodies set: a deterministic selection, monophonic scores, byte-identical renders."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter
from pathlib import Path

import mido
import pytest
import soundfile as sf
from conftest import SR, tone
from music21 import chord, harmony, meter, note, stream
from system_parts import needs_synth

from pianodiff.data import melodies
from pianodiff.data.datamodule import AudioDataModule
from pianodiff.data.prepare import FIELDS, main, prepare_melodies
from pianodiff.data.render import (
    load_score,
    prepare_score,
    score_to_midi,
    to_melody,
)
from pianodiff.training.run import compose_train_config

TWO_TUNES = """X: 1
T: First
M: 4/4
L: 1/4
K: C
C D E F|
X: 2
T: Second
M: 4/4
L: 1/4
K: G
G A B c|
X: 1
T: A repeated number is one tune
K: C
C|
"""


def test_selection_is_deterministic_and_spans_every_collection():
    first = melodies.melody_table.__wrapped__()  # computed afresh, not the cached table
    assert first == melodies.melody_table.__wrapped__() == melodies.melody_table()
    per = Counter(p.corpus_path.split("/")[0] for p in first)
    assert per == {c: melodies.PER_COLLECTION for c in melodies.COLLECTIONS}
    held_out = Counter(p.corpus_path.split("/")[0] for p in first if p.split == "eval")
    assert held_out == {c: 3 for c in melodies.COLLECTIONS}
    assert len({p.piece_id for p in first}) == len(first) == 144
    assert len({p.corpus_path for p in first}) == len(first)
    for p in first:
        path, _, number = p.corpus_path.partition("#")
        assert (
            p.monophonic and number.isdigit() and p.piece_id == melodies.tune_id(path, int(number))
        )
    assert [p.piece_id for p in melodies.select(f"{first[5].piece_id}, {first[0].piece_id}")] == [
        first[5].piece_id,
        first[0].piece_id,
    ]
    with pytest.raises(ValueError, match=r"unknown piece id.*\(144 in all\)"):
        melodies.select("no_such_tune")


def test_tune_numbers_and_picking_one_tune_of_a_collection(tmp_path):
    abc = tmp_path / "two.abc"
    abc.write_text(TWO_TUNES)
    assert melodies.tune_numbers(abc) == [1, 2]
    assert melodies.spread(list(range(10)), 3) == [1, 5, 8]
    assert melodies.tune_id("oneills1850/0001-0050.abc", 7) == "oneills1850_0001_0050_7"
    second = load_score(f"{abc}#2")
    assert [n.pitch.name for n in second.recurse().notes] == ["G", "A", "B", "C"]


def test_to_melody_keeps_one_line_the_top_notes():
    lead, bass = stream.Part(), stream.Part()
    m = stream.Measure(number=1)
    m.append(meter.TimeSignature("4/4"))
    m.append(harmony.ChordSymbol("C"))
    m.append(note.Note("E4", quarterLength=1))
    m.append(chord.Chord(["C4", "G4"], quarterLength=1))  # a double stop
    m.append(note.Note("F4", quarterLength=2))
    lead.append(m)
    bass.append(stream.Measure([note.Note("C2", quarterLength=4)], number=1))
    score = stream.Score([lead, bass])
    melody = prepare_score(to_melody(score))
    assert len(melody.parts) == 1
    played = list(melody.recurse().notes)
    assert [n.pitch.nameWithOctave for n in played] == ["E4", "G4", "F4"]
    assert [float(n.quarterLength) for n in played] == [1.0, 1.0, 2.0]
    assert not any(isinstance(n, chord.Chord) for n in played)


def test_a_tune_whose_bars_share_a_time_signature_still_becomes_midi(tmp_path):
    # music21's ABC reader puts one TimeSignature object in two bars of this tune (around
    # its 1/16 pickup bar); its MIDI writer refuses that unless each bar gets its own.
    score = prepare_score(to_melody(load_score("oneills1850/0001-0050.abc#28")))
    midi = tmp_path / "tune.mid"
    score_to_midi(score, midi)
    assert sum(m.type == "note_on" for t in mido.MidiFile(str(midi)).tracks for m in t) > 50


@needs_synth
@pytest.mark.slow
def test_tiny_render_is_byte_identical_twice_with_its_manifest(tmp_path):
    table = melodies.melody_table()
    picks = [table[0], next(p for p in table if p.split == "eval")]  # a train and an eval tune
    ids = ",".join(p.piece_id for p in picks)
    runs = []
    for name in ("a", "b"):
        rows, failures = prepare_melodies(
            out=tmp_path / name, pieces=ids, measures=2, show_progress=False
        )
        assert failures == {}
        runs.append(rows)
    for p in picks:
        a = tmp_path / "a" / p.split / f"{p.piece_id}.wav"
        b = tmp_path / "b" / p.split / f"{p.piece_id}.wav"
        assert a.read_bytes() == b.read_bytes(), f"{p.piece_id}: rebuilds must be byte-identical"
        info = sf.info(str(a))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert 0.5 < info.duration < 30.0
    with open(tmp_path / "a" / "manifest.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == FIELDS
        saved = list(reader)
    assert [r["piece_id"] for r in saved] == [p.piece_id for p in picks]  # table order
    for row, p in zip(saved, picks):
        wav = tmp_path / "a" / p.split / f"{p.piece_id}.wav"
        assert row["sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
        assert (row["corpus_path"], row["split"]) == (p.corpus_path, p.split)
        assert row["excerpt"] == "measures=1-2" and row["soundfont"] == "MuseScore_General_Full.sf3"
    assert runs[0] == runs[1]


def test_cli_knows_the_melodies_set(tmp_path, capsys):
    assert main(["--help"]) == 0
    assert "melodies" in capsys.readouterr().out
    # A FluidSynth that does not exist: the unknown piece is still what the user hears of.
    no_exe = f"fluidsynth={tmp_path / 'none' / 'fluidsynth'}"
    assert main(["melodies", "pieces=no_such_tune", f"out={tmp_path}", no_exe]) != 0
    assert "unknown piece id" in capsys.readouterr().err


def test_data_roots_may_be_a_list_of_folders(tmp_path):
    for name, freqs in (("piano", (220.0, 277.2)), ("tunes", (261.6, 329.6))):
        for split in ("train", "eval"):
            folder = tmp_path / name / split
            folder.mkdir(parents=True)
            sf.write(folder / f"{name}_{split}.wav", tone(1.0, freqs), SR, subtype="PCM_16")
    dm = AudioDataModule(
        root=[str(tmp_path / "piano" / "train"), str(tmp_path / "tunes" / "train")],
        val_root=[str(tmp_path / "piano" / "eval"), str(tmp_path / "tunes" / "eval")],
        segment_seconds=0.25,
    )
    dm.setup()
    assert [Path(c.name).stem for c in dm.train_clips] == ["piano_train", "tunes_train"]
    assert [Path(c.name).stem for c in dm.val_clips] == ["piano_eval", "tunes_eval"]
    shutil.rmtree(tmp_path / "tunes" / "train")
    with pytest.raises(Exception, match="tunes/train"):
        AudioDataModule(
            root=[str(tmp_path / "piano" / "train"), str(tmp_path / "tunes" / "train")]
        ).setup()


def test_combined_config_lists_both_sets(tmp_path):
    cfg = compose_train_config(["data=piano14_melodies", f"paths.data_dir={tmp_path}"])
    assert list(cfg.data.root) == [f"{tmp_path}/piano14/train", f"{tmp_path}/melodies/train"]
    assert list(cfg.data.val_root) == [f"{tmp_path}/piano14/eval", f"{tmp_path}/melodies/eval"]
    melodies_only = compose_train_config(["data=melodies", f"paths.data_dir={tmp_path}"])
    assert melodies_only.data.root == f"{tmp_path}/melodies/train"
