"""Reading a range or the tail of a sound file decodes only that part (soundfile seeks):
the same samples as a whole read, a fraction of the memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone

from pianodiff.core.audio import read_audio, read_audio_range, read_audio_tail
from pianodiff.generation import prompt


def stereo(seconds: float, rate: int) -> np.ndarray:
    left = tone(seconds, (220.0, 330.0), sr=rate)
    return np.stack([left, tone(seconds, (261.6, 392.0), sr=rate)], axis=1)


def test_same_rate_range_is_exactly_those_frames(tmp_path):
    data = stereo(3.0, 16000)
    sf.write(tmp_path / "s.wav", data, 16000, subtype="FLOAT")
    part = read_audio_range(tmp_path / "s.wav", 1.0, 2.0, 16000)
    assert torch.equal(part, torch.from_numpy(data[16000:32000].mean(axis=1)))
    assert len(read_audio_range(tmp_path / "s.wav", 2.5, 9.0, 16000)) == 8000  # cut at the end
    assert len(read_audio_tail(tmp_path / "s.wav", 10.0, 16000)) == 48000  # shorter: all of it


@pytest.mark.parametrize("rate", [44100, 48000, 16000])
def test_resampled_tail_and_range_match_the_whole_read(tmp_path, rate):
    sf.write(tmp_path / "s.flac", stereo(4.0, rate), rate)
    whole = read_audio(tmp_path / "s.flac", 22050)
    part = read_audio_range(tmp_path / "s.flac", 1.1, 2.73, 22050)
    assert torch.allclose(part, whole[round(1.1 * 22050) : round(2.73 * 22050)], atol=1e-6)
    tail = read_audio_tail(tmp_path / "s.flac", 1.0, 22050)
    assert len(tail) == 22050
    assert torch.allclose(tail, whole[-22050:], atol=1e-6)  # the same samples


def test_tail_of_a_long_recording_costs_the_tail_only(tmp_path):
    """60 s of 48 kHz stereo: a whole read holds 23 MB of samples, the 1 s tail < 2 MB."""
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", 48000, 2, "PCM_16") as fh:
        for _ in range(12):  # written in 5 s blocks: the test never holds it all either
            fh.write(stereo(5.0, 48000))
    tracemalloc.start()
    tail = read_audio_tail(path, 1.0, 48000)
    tail_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    whole = read_audio(path, 48000)
    whole_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert torch.equal(tail, whole[-48000:])
    assert whole_peak > 20e6 and tail_peak < 2e6, (tail_peak, whole_peak)


def test_prompt_tail_is_read_without_a_whole_read(tmp_path, monkeypatch):
    """load_prompt_file(tail_seconds=...) — what generate conditions the model on — never decodes
    the whole file, and gives the same samples as a whole read's tail."""
    sf.write(tmp_path / "g.wav", stereo(3.0, 48000), 48000)
    expected = read_audio(tmp_path / "g.wav", 22050)[-11025:]

    def whole_read(*args, **kwargs):
        raise AssertionError("the whole prompt file was read")

    monkeypatch.setattr(prompt, "read_audio", whole_read)
    tail = prompt.load_prompt_file(tmp_path / "g.wav", 22050, tail_seconds=0.5)
    assert len(tail) == 11025 and torch.allclose(tail, expected, atol=1e-6)


@pytest.mark.parametrize("start,stop", [(-1.0, 0.5), (0.5, 0.2)])
def test_odd_ranges_are_clamped(tmp_path, start, stop):
    sf.write(tmp_path / "s.wav", tone(1.0, sr=8000), 8000)
    part = read_audio_range(tmp_path / "s.wav", start, stop, 8000)
    assert len(part) == max(0, round(min(stop, 1.0) * 8000) - max(0, round(start * 8000)))
