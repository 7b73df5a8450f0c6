"""The folder converter on real files of other rates, channel counts and formats."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import torch
from conftest import tone

from pianodiff.data.convert import convert_folder, to_training_format, trim_silence
from pianodiff.data.prepare import main

PEAK = 10 ** (-1 / 20)


def _channels(mono: np.ndarray, n: int) -> np.ndarray:
    return np.stack([mono * (0.5 + 0.5 * c / n) for c in range(n)], axis=1)


def _recordings(root):
    """Five readable files (four formats, four rates, 1-3 channels), a corrupt and a silent one."""
    (root / "sub" / "deeper").mkdir(parents=True)
    pad = np.zeros(4410, dtype=np.float32)  # 0.1 s of silence at 44.1 kHz, to be trimmed
    body = np.concatenate([pad, tone(1.0, sr=44100), pad])
    sf.write(root / "stereo44k.wav", _channels(body, 2), 44100, subtype="PCM_24")
    sf.write(root / "mono16k.flac", tone(1.0, sr=16000), 16000)
    sf.write(root / "sub" / "three48k.ogg", _channels(tone(1.0, sr=48000), 3), 48000)
    sf.write(root / "sub" / "deeper" / "song.mp3", tone(1.0, sr=32000), 32000, format="MP3")
    sf.write(root / "sub" / "song.wav", tone(1.0, sr=8000), 8000)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00junk that is not audio" * 10)
    sf.write(root / "silent.wav", np.zeros(2205, dtype=np.float32), 22050)
    (root / "notes.txt").write_text("not audio, ignored")


def test_converts_every_readable_file_and_lists_the_rest(tmp_path):
    src, dst = tmp_path / "rec", tmp_path / "out"
    _recordings(src)
    report = convert_folder(src, dst)

    assert sorted(p.relative_to(dst).as_posix() for p in report.converted) == [
        "mono16k.wav",
        "stereo44k.wav",
        "sub/deeper/song.wav",
        "sub/song.wav",
        "sub/three48k.wav",
    ]
    assert sorted(p.name for p, _ in report.failed) == ["broken.wav", "silent.wav"]
    assert all(why for _, why in report.failed)
    for path in report.converted:
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        data, _ = sf.read(str(path), dtype="float32")
        assert abs(np.abs(data).max() - PEAK) < 1e-3
        assert 0.8 < len(data) / 22050 < 1.1, path  # about 1 s; padding trimmed away
    assert not (dst / "broken.wav").exists()


def test_second_run_skips_finished_files(tmp_path):
    src, dst = tmp_path / "rec", tmp_path / "out"
    _recordings(src)
    first = convert_folder(src, dst)
    stamps = {p: p.stat().st_mtime_ns for p in first.converted}
    again = convert_folder(src, dst)
    assert again.converted == [] and sorted(again.skipped) == sorted(first.converted)
    assert {p: p.stat().st_mtime_ns for p in first.converted} == stamps


def test_same_stem_in_two_formats_keeps_both(tmp_path):
    src = tmp_path / "rec"
    src.mkdir()
    sf.write(src / "take.wav", tone(0.5), 22050)
    sf.write(src / "take.flac", tone(0.5, freqs=(440.0,)), 22050)
    report = convert_folder(src, tmp_path / "out")
    assert sorted(p.name for p in report.converted) == ["take.wav", "take_wav.wav"]


def test_cli_exit_codes(tmp_path, capsys):
    src, dst = tmp_path / "rec", tmp_path / "out"
    _recordings(src)
    assert main(["folder", str(src), str(dst)]) == 0
    err = capsys.readouterr().err
    assert "5 converted" in err and "broken.wav" in err

    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.flac").write_bytes(b"nope")
    assert main(["folder", str(only_bad), str(tmp_path / "o2")]) != 0
    assert main(["folder", str(tmp_path / "missing"), str(dst)]) != 0
    assert "source folder not found" in capsys.readouterr().err


def test_trim_is_relative_to_the_peak_and_silence_is_refused():
    wav = torch.zeros(1000)
    wav[100:200] = 0.001  # quiet, but the loudest thing in the file
    assert trim_silence(wav).numel() == 100
    out = to_training_format(wav)
    assert abs(out.abs().max().item() - PEAK) < 1e-6
    try:
        to_training_format(torch.zeros(100))
    except ValueError as err:
        assert "silent" in str(err)
    else:  # pragma: no cover
        raise AssertionError("silence must be refused")
