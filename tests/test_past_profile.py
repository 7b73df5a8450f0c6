"""The pitch profile of the audio before a point: the feature a profile-conditioned net is
trained and run with. It reads only audio that exists before that point, in training (the
audio before a crop, in the same file) as in generation.
"""

from __future__ import annotations

import math

import pytest
import soundfile as sf
import torch
from conftest import SR

from pianodiff.data.datamodule import AudioDataModule
from pianodiff.data.dataset import Clip, RandomCrops
from pianodiff.measures.past_profile import PastProfile, past_profile


def chord(seconds: float, midis=(60, 64, 67)) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    wave = sum(torch.sin(2 * math.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in midis)
    return (0.2 * wave / len(midis)).float()


def test_a_chord_gives_its_pitch_classes_or_its_notes():
    audio = torch.cat([chord(2.0), chord(1.0, midis=(66, 70, 73))])  # C major, then F# major
    classes = past_profile(audio, 2 * SR, seconds=2.0, bins=12)
    assert classes.shape == (12,) and float(classes.norm()) == pytest.approx(1.0, abs=1e-5)
    assert set(torch.topk(classes, 3).indices.tolist()) == {0, 4, 7}
    notes = past_profile(audio, 2 * SR, seconds=2.0, bins=128)
    assert notes.shape == (128,) and set(torch.topk(notes, 3).indices.tolist()) == {60, 64, 67}
    later = past_profile(audio, 3 * SR, seconds=1.0, bins=12)  # the last second: F# major
    assert set(torch.topk(later, 3).indices.tolist()) == {6, 10, 1}


def test_no_sample_at_or_after_the_cut_reaches_the_profile():
    audio = torch.cat([chord(2.0), chord(2.0, midis=(61, 65, 68))])
    cut = 2 * SR + 1234
    before = past_profile(audio, cut, seconds=1.5)
    changed = audio.clone()
    changed[cut:] = torch.randn(len(audio) - cut)
    assert torch.equal(past_profile(changed, cut, seconds=1.5), before)
    too_early = audio.clone()  # nor anything older than `seconds` before the cut
    too_early[: cut - round(1.5 * SR)] = torch.randn(cut - round(1.5 * SR))
    assert torch.equal(past_profile(too_early, cut, seconds=1.5), before)
    inside = audio.clone()  # while the audio just before the cut does count
    inside[cut - SR // 2 : cut] = torch.randn(SR // 2)
    assert not torch.allclose(past_profile(inside, cut, seconds=1.5), before)


def test_too_little_or_silent_past_gives_the_empty_profile():
    audio = chord(3.0)
    assert not past_profile(audio, SR // 4, seconds=2.0).any()  # 0.25 s < 0.5 s
    assert past_profile(audio, SR, seconds=2.0).any()
    assert not past_profile(torch.zeros(3 * SR), 2 * SR, seconds=2.0).any()
    with pytest.raises(ValueError, match="12 .* or 128"):
        PastProfile(seconds=2.0, bins=24)
    with pytest.raises(ValueError, match=r"seconds must be in \(0, 30\]"):
        PastProfile(seconds=60.0)


class Spy:
    """A past feature that records what it was shown and answers with the real profile."""

    def __init__(self):
        self.real, self.calls = PastProfile(seconds=1.0), []

    def __call__(self, audio: torch.Tensor, end: int) -> torch.Tensor:
        self.calls.append((audio, end))  # a view of the clip's audio
        return self.real(audio, end)


def test_training_crops_carry_the_profile_of_the_audio_before_them():
    clips = [Clip("a", chord(3.0)), Clip("b", chord(3.0, midis=(62, 66, 69)))]
    spy = Spy()
    with_profile = RandomCrops(clips, 4000, seed=3, profile=spy)
    plain = RandomCrops(clips, 4000, seed=3)
    for index in range(12):
        crop, profile = with_profile[index]
        assert torch.equal(crop, plain[index])  # the crops are the ones a plain run draws
        seen, end = spy.calls[-1]
        assert len(seen) == end  # the feature is handed the audio up to the crop, no further
        clip = next(c for c in clips if c.audio.data_ptr() == seen.data_ptr())
        start = end
        assert torch.equal(clip.audio[start : start + 4000], crop)
        assert torch.equal(profile, past_profile(clip.audio, start, 1.0, 12))
        # everything from the crop on may change: the profile does not
        changed = Clip(clip.name, clip.audio.clone())
        changed.audio[start:] = torch.randn(len(clip.audio) - start)
        again = RandomCrops([changed if c is clip else c for c in clips], 4000, seed=3)
        again.profile = PastProfile(seconds=1.0)
        assert torch.equal(again[index][1], profile)


def test_the_data_module_batches_crops_with_their_profiles(tmp_path):
    for i, midis in enumerate([(60, 64, 67), (62, 65, 69)]):
        sf.write(tmp_path / f"p{i}.wav", chord(2.0, midis).numpy(), SR)
    dm = AudioDataModule(
        root=str(tmp_path),
        val_fraction=0.0,
        segment_seconds=0.25,
        batch_size=3,
        profile=PastProfile(seconds=1.0, bins=12),
    )
    dm.setup("fit")
    crops, profiles = next(iter(dm.train_dataloader()))
    assert crops.shape == (3, round(0.25 * SR)) and profiles.shape == (3, 12)
    norms = profiles.norm(dim=1)  # each unit length, or empty where a crop starts too early
    assert all(abs(float(n) - 1.0) < 1e-4 or float(n) == 0.0 for n in norms)
