"""The audio datamodule on real files: discovery, split, crops, resumable stream, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SR, tone

from pianodiff.data.datamodule import AudioDataModule, NoUsableAudioError, SyntheticDataModule
from pianodiff.data.dataset import FixedCrops, RandomCrops, StreamSampler, find_audio_files


def module(root, **kw) -> AudioDataModule:
    dm = AudioDataModule(root=str(root), **{"segment_seconds": 0.25, "batch_size": 2, **kw})
    dm.setup("fit")
    return dm


def test_finds_files_recursively_in_every_format(audio_folder):
    sub = audio_folder / "deeper" / "still"
    sub.mkdir(parents=True)
    sf.write(sub / "a.flac", tone(0.5), SR)
    sf.write(sub / "b.OGG", tone(0.5), SR, format="OGG", subtype="VORBIS")
    (audio_folder / "notes.txt").write_text("not audio")
    names = [p.name for p in find_audio_files(audio_folder)]
    assert names == sorted(names) and len(names) == 6
    assert "a.flac" in names and "b.OGG" in names and "notes.txt" not in names


def test_mono_and_resampled(tmp_path):
    stereo = np.stack([tone(1.0, sr=44100), tone(1.0, sr=44100)], axis=1)
    sf.write(tmp_path / "stereo44k.wav", stereo, 44100)
    dm = module(tmp_path, val_fraction=0.0)
    (clip,) = dm.train_clips
    assert clip.audio.ndim == 1 and abs(len(clip.audio) - SR) <= 1


def test_split_by_file_is_seeded_and_disjoint(audio_folder):
    dm = module(audio_folder, val_fraction=0.25, seed=3)
    train = {c.name for c in dm.train_clips}
    val = {c.name for c in dm.val_clips}
    assert len(train) == 3 and len(val) == 1 and not train & val
    again = module(audio_folder, val_fraction=0.25, seed=3)
    assert {c.name for c in again.val_clips} == val


def test_explicit_val_folder(audio_folder, tmp_path):
    held = tmp_path / "held"
    held.mkdir()
    sf.write(held / "x.wav", tone(1.0), SR)
    dm = module(audio_folder, val_root=str(held))
    assert len(dm.train_clips) == 4 and [c.name for c in dm.val_clips] == [str(held / "x.wav")]


def test_crops_are_seeded_and_the_right_length(audio_folder):
    dm = module(audio_folder, val_fraction=0.25)
    crops = RandomCrops(dm.train_clips, 1000, seed=5)
    assert crops[7].shape == (1000,)
    assert torch.equal(crops[7], RandomCrops(dm.train_clips, 1000, seed=5)[7])
    assert not torch.equal(crops[7], crops[8])
    assert not torch.equal(crops[7], RandomCrops(dm.train_clips, 1000, seed=6)[7])


def test_stream_continues_from_the_position():
    position = {"step": 0}
    s = StreamSampler(batch_size=2, batches_per_epoch=3, position=lambda: position["step"])
    assert list(s) == [0, 1, 2, 3, 4, 5]
    position["step"] = 2  # a resumed run at global step 2 sees batches 2, 3, 4
    assert list(s)[:2] == [4, 5]
    ranks = [list(StreamSampler(2, 2, lambda: 0, rank=r, world_size=2)) for r in (0, 1)]
    assert ranks == [[0, 1, 4, 5], [2, 3, 6, 7]]  # ranks never share an item


def test_train_and_val_loaders(audio_folder):
    dm = module(audio_folder, val_fraction=0.25, batches_per_epoch=5)
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (2, round(0.25 * SR)) and batch.dtype == torch.float32
    assert len(dm.train_dataloader()) == 5
    v1 = torch.cat(list(dm.val_dataloader()))
    v2 = torch.cat(list(dm.val_dataloader()))
    assert torch.equal(v1, v2) and len(v1) >= 1


def test_silence_filter(tmp_path):
    audio = np.concatenate([np.zeros(SR * 2, np.float32), tone(0.3)])
    sf.write(tmp_path / "mostly_silent.wav", audio, SR)
    dm = module(tmp_path, val_fraction=0.0, silence_db=-40.0)
    crops = RandomCrops(dm.train_clips, 2000, seed=0, silence_db=-40.0, max_redraws=50)
    quiet = [i for i in range(20) if crops[i].abs().max() == 0]
    assert not quiet
    unfiltered = RandomCrops(dm.train_clips, 2000, seed=0)
    assert any(unfiltered[i].abs().max() == 0 for i in range(20))
    fixed = FixedCrops(dm.train_clips, 2000, crops_per_clip=8, silence_db=-40.0)
    assert 0 < len(fixed) < 8


def test_short_files_padded_or_skipped(audio_folder, caplog):
    sf.write(audio_folder / "short.wav", tone(0.1), SR)
    with caplog.at_level(logging.WARNING):
        padded = module(audio_folder, val_fraction=0.0)
    assert len(padded.train_clips) == 5 and "padding" in caplog.text and "short.wav" in caplog.text
    skipped = module(audio_folder, val_fraction=0.0, short_files="skip")
    assert len(skipped.train_clips) == 4
    with pytest.raises(ValueError, match="short_files"):
        module(audio_folder, short_files="crop")


def test_unreadable_file_skipped_with_warning(audio_folder, caplog):
    (audio_folder / "broken.wav").write_bytes(b"RIFF not really a wav")
    with caplog.at_level(logging.WARNING):
        dm = module(audio_folder, val_fraction=0.0)
    assert len(dm.train_clips) == 4 and "broken.wav" in caplog.text


def test_no_usable_file_names_folder_and_formats(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(NoUsableAudioError, match=r"no audio files in .*\.wav.*\.flac"):
        module(tmp_path)
    (tmp_path / "bad.wav").write_bytes(b"junk")
    with pytest.raises(NoUsableAudioError, match=str(tmp_path)):
        module(tmp_path, val_fraction=0.0)
    with pytest.raises(FileNotFoundError, match="data.root"):
        module(tmp_path / "missing")


def test_synthetic_module_needs_no_files():
    dm = SyntheticDataModule(num_clips=2, clip_seconds=0.5, segment_seconds=0.1, batch_size=2)
    dm.setup("fit")
    assert len(dm.train_clips) == 2 and len(dm.val_clips) == 1
    assert next(iter(dm.train_dataloader())).shape == (2, round(0.1 * SR))
