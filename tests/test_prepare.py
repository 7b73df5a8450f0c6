"""The piano14 command: manifest, checksums, resuming, byte-identical rebuilds, clear errors."""

from __future__ import annotations

import csv
import hashlib

import pytest
import soundfile as sf
from system_parts import needs_synth

from pianodiff.data.piano14 import PIANO14, select
from pianodiff.data.prepare import FIELDS, main, prepare_piano14, read_manifest


def test_selection_table_is_14_train_and_3_eval_with_unique_ids():
    splits = [p.split for p in PIANO14]
    assert splits.count("train") == 14 and splits.count("eval") == 3
    assert len({p.piece_id for p in PIANO14}) == len(PIANO14)
    assert [p.piece_id for p in select("bach_bwv846, joplin_maple_leaf_rag")] == [
        "bach_bwv846",
        "joplin_maple_leaf_rag",
    ]
    with pytest.raises(ValueError, match="unknown piece id.*choose from"):
        select("no_such_piece")


@needs_synth
@pytest.mark.slow
def test_render_manifest_resume_and_rebuild(tmp_path):
    out = tmp_path / "piano14"
    # Two pieces in two worker processes: one training, one held-out.
    rows, failures = prepare_piano14(
        out=out,
        pieces="bach_bwv846,mozart_k545_exposition",
        jobs=2,
        measures=2,
        show_progress=False,
    )
    assert failures == {}
    wav = out / "train" / "bach_bwv846.wav"
    with open(out / "manifest.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == FIELDS
        row, held_out = list(reader)
    assert (held_out["piece_id"], held_out["split"]) == ("mozart_k545_exposition", "eval")
    assert (out / "eval" / "mozart_k545_exposition.wav").is_file()
    assert row["corpus_path"] == "bach/bwv846.mxl" and row["split"] == "train"
    assert row["soundfont"] == "MuseScore_General_Full.sf3" and row["excerpt"] == "measures=1-2"
    assert row["tempo_bpm"] == ""
    assert row["sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert abs(float(row["duration_s"]) - sf.info(str(wav)).duration) < 1e-3
    assert not (out / "manifest.partial.csv").exists()
    original = wav.read_bytes()

    # A finished file is verified and skipped: not rewritten.
    stamp = wav.stat().st_mtime_ns
    prepare_piano14(out=out, pieces="bach_bwv846", measures=2, show_progress=False)
    assert wav.stat().st_mtime_ns == stamp

    # A corrupted file fails its checksum and is rendered again, byte for byte the same.
    wav.write_bytes(original[:1000] + b"\x00" * (len(original) - 1000))
    prepare_piano14(out=out, pieces="bach_bwv846", measures=2, show_progress=False)
    assert wav.read_bytes() == original
    after = read_manifest(out / "manifest.csv")
    assert after["bach_bwv846"]["sha256"] == row["sha256"]
    assert after["mozart_k545_exposition"] == held_out, "rows of other pieces are kept"


def test_missing_fluidsynth_is_one_clear_line_and_writes_nothing(tmp_path, capsys):
    # The state the message describes is made here, not borrowed from the machine: a
    # soundfont file that exists and a FluidSynth path that does not.
    font = tmp_path / "piano.sf2"
    font.write_bytes(b"RIFF")
    out = tmp_path / "piano14"
    missing_exe = tmp_path / "none" / "fluidsynth"
    code = main(["piano14", f"out={out}", f"soundfont={font}", f"fluidsynth={missing_exe}"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "fluidsynth not found" in err and "sudo apt-get install -y fluidsynth" in err
    assert "soundfont" not in err.split(";")[0]
    assert not out.exists()


def test_everything_missing_is_named_in_one_line(tmp_path, capsys):
    out = tmp_path / "piano14"
    font, exe = tmp_path / "absent.sf3", tmp_path / "none" / "fluidsynth"
    assert main(["piano14", f"out={out}", f"soundfont={font}", f"fluidsynth={exe}"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "fluidsynth not found" in err and f"soundfont not found: {font}" in err
    assert "install_system_deps.sh" in err
    assert not out.exists()


def test_a_typo_in_the_pieces_is_answered_before_the_system_check(tmp_path, capsys):
    exe = tmp_path / "none" / "fluidsynth"
    assert main(["piano14", "pieces=nope", f"out={tmp_path}", f"fluidsynth={exe}"]) != 0
    assert "unknown piece id" in capsys.readouterr().err


def test_missing_soundfont_and_bad_options_exit_non_zero(tmp_path, capsys):
    assert main(["piano14", f"out={tmp_path}", f"soundfont={tmp_path / 'x.sf2'}"]) != 0
    assert "soundfont not found" in capsys.readouterr().err
    assert main(["piano14", "speed=9"]) != 0
    assert "unknown option" in capsys.readouterr().err
    assert main(["piano14", "pieces=nope", f"out={tmp_path}"]) != 0
    assert main(["piano14", "jobs=two", f"out={tmp_path}"]) != 0
    assert "jobs=two is not a whole number" in capsys.readouterr().err
    assert main(["bogus"]) != 0


def test_help_lists_the_real_options(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for word in ("piano14", "folder SRC DST", "jobs=", "soundfont=", "out=", "pieces=",
                 "measures=", "fluidsynth="):  # fmt: skip
        assert word in text
