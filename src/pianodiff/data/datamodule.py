"""LightningDataModule over folders of audio (or synthetic chords for smoke runs).

``root`` and ``val_root`` are one folder or a list of folders (their files are pooled, so
two data sets train together). Split by file: validation uses the files under ``val_root``
when it is given, otherwise a seeded ``val_fraction`` of the files under ``root``. Training
batches are seeded random crops (a resumable stream, see ``dataset.StreamSampler``);
validation uses fixed crops. With ``profile`` each training crop comes with a feature of
the audio before it in the same file (a profile-conditioned model's pitch profile).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import AUDIO_EXTENSIONS
from pianodiff.core.errors import UserError
from pianodiff.data.dataset import (
    Clip,
    FixedCrops,
    PastFeature,
    RandomCrops,
    StreamSampler,
    find_audio_files,
    load_clips,
)

log = logging.getLogger(__name__)


class StreamLoader(DataLoader):
    """The training DataLoader over the resumable crop stream.

    Its position is not state of its own: ``StreamSampler`` starts every epoch at the
    trainer's global step, so a mid-epoch resume continues the stream exactly. The
    ``state_dict``/``load_state_dict`` pair says so to Lightning (which otherwise warns that
    a mid-epoch resume of a plain DataLoader is unreliable); there is nothing to restore.
    """

    def state_dict(self) -> dict[str, int]:
        return {}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Nothing to load: the sampler reads its position from the restored trainer."""


class NoUsableAudioError(UserError):
    """No file of a data folder could be used; the message names the folder and formats."""


class AudioDataModule(L.LightningDataModule):
    """Crops of one or more folders of recordings.

    Args:
        root: folder (or list of folders) searched recursively for audio files.
        val_root: optional folder (or list) of held-out files; when None, ``val_fraction``
            of the files under ``root`` (at least one, when there are two or more) is held out.
        val_fraction: share of files held out when ``val_root`` is None (0 = none).
        segment_seconds: training crop length.
        val_segment_seconds: validation crop length (default: ``segment_seconds``).
        batch_size: crops per training batch (per process).
        val_batch_size: crops per validation batch (default: ``batch_size``).
        batches_per_epoch: length of a Lightning "epoch" of the endless crop stream.
        val_crops_per_file: evenly spaced validation crops per held-out file.
        max_val_crops: cap on the validation set size.
        silence_db: crops quieter than this RMS level (dBFS) are redrawn/left out; None = off.
        short_files: "pad" or "skip" files shorter than one crop.
        extensions: file suffixes searched.
        seed: seed of the training crop stream.
        num_workers: DataLoader worker processes (audio is in memory: 0 is usually fine).
        sample_rate: rate every file is resampled to.
        profile: a feature of the audio before each training crop (e.g.
            ``measures.past_profile.PastProfile``); training batches are then the pair
            [crops (B, T), profiles (B, bins)]. Validation crops stay plain.
    """

    def __init__(
        self,
        root: str | Sequence[str] | None = None,
        val_root: str | Sequence[str] | None = None,
        val_fraction: float = 0.1,
        segment_seconds: float = 1.0,
        val_segment_seconds: float | None = None,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        batches_per_epoch: int = 1000,
        val_crops_per_file: int = 4,
        max_val_crops: int | None = 32,
        silence_db: float | None = -50.0,
        short_files: str = "pad",
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        seed: int = 0,
        num_workers: int = 0,
        sample_rate: int = SAMPLE_RATE,
        profile: PastFeature | None = None,
    ):
        super().__init__()
        self.root = root
        self.val_root = val_root
        self.val_fraction = val_fraction
        self.segment_samples = max(1, round(segment_seconds * sample_rate))
        self.val_segment_samples = max(
            1, round((val_segment_seconds or segment_seconds) * sample_rate)
        )
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.batches_per_epoch = batches_per_epoch
        self.val_crops_per_file = val_crops_per_file
        self.max_val_crops = max_val_crops
        self.silence_db = silence_db
        self.short_files = short_files
        self.extensions = tuple(extensions)
        self.seed = seed
        self.num_workers = num_workers
        self.sample_rate = sample_rate
        self.profile = profile
        self.train_clips: list[Clip] = []
        self.val_clips: list[Clip] = []

    # -- loading ---------------------------------------------------------------------------

    def check_sources(self) -> None:
        """Fail in one line, before a run creates anything, when a data folder is not set,
        does not exist or holds no audio file (the same checks ``setup`` would hit later)."""
        fix = (
            "run `make data` (renders piano14 into data/piano14; SET=melodies for the tunes) "
            "or set data.root=<folder of audio files>"
        )
        if self.root is None or (not isinstance(self.root, str | Path) and not list(self.root)):
            raise NoUsableAudioError(f"no data folder given; {fix}")
        for option, roots in (("data.root", self.root), ("data.val_root", self.val_root)):
            folders = [] if roots is None else [roots] if isinstance(roots, str | Path) else roots
            for folder in folders:
                path = Path(folder)
                if not path.is_dir():
                    raise NoUsableAudioError(
                        f"no audio to train on: {option} {path} does not exist; {fix}"
                    )
                if not find_audio_files(path, self.extensions):
                    raise NoUsableAudioError(
                        f"no audio files ({', '.join(self.extensions)}) in {option} {path}; {fix}"
                    )

    def setup(self, stage: str | None = None) -> None:
        if self.train_clips:
            return  # loaded once per process; fit and validate share it
        self.train_clips, self.val_clips = self.load_split()
        seconds = sum(len(c.audio) for c in self.train_clips) / self.sample_rate
        log.info(
            "data: %d training files (%.1f min), %d validation files",
            len(self.train_clips),
            seconds / 60,
            len(self.val_clips),
        )

    def load_split(self) -> tuple[list[Clip], list[Clip]]:
        """(training clips, validation clips), split by file."""
        min_samples = max(self.segment_samples, self.val_segment_samples)
        train_files = self._files(self.root)
        if self.val_root:
            val_files = self._files(self.val_root)
        else:
            train_files, val_files = self._hold_out(train_files)
        train = load_clips(train_files, self.sample_rate, min_samples, self.short_files)
        if not train:
            raise NoUsableAudioError(
                f"no usable audio file in {self.root} (all {len(train_files)} unreadable or "
                f"too short for a {self.segment_samples / self.sample_rate:.2f} s crop)"
            )
        val = load_clips(val_files, self.sample_rate, min_samples, self.short_files)
        return train, val

    def _files(self, folder: str | Sequence[str] | None) -> list[Path]:
        if folder is None or (not isinstance(folder, str | Path) and not list(folder)):
            raise NoUsableAudioError("no data folder given: set data.root=<folder of audio files>")
        if not isinstance(folder, str | Path):  # a list of folders: their files pooled
            return [f for one in folder for f in self._files(one)]
        files = find_audio_files(folder, self.extensions)
        if not files:
            raise NoUsableAudioError(
                f"no audio files in {folder} (searched recursively for "
                f"{', '.join(self.extensions)}); set data.root=<folder of audio files>"
            )
        return files

    def _hold_out(self, files: list[Path]) -> tuple[list[Path], list[Path]]:
        if self.val_fraction <= 0 or len(files) < 2:
            if self.val_fraction > 0:
                log.warning("only one audio file: validating on fixed crops of the training file")
                return files, files
            return files, []
        n_val = min(len(files) - 1, max(1, math.floor(self.val_fraction * len(files))))
        order = torch.randperm(len(files), generator=torch.Generator().manual_seed(self.seed))
        val_idx = set(order[:n_val].tolist())
        train = [f for i, f in enumerate(files) if i not in val_idx]
        val = [f for i, f in enumerate(files) if i in val_idx]
        return train, val

    # -- loaders ---------------------------------------------------------------------------

    def _batches_consumed(self) -> int:
        """Training batches this process has consumed (the resumable stream position)."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0
        return int(trainer.global_step) * int(trainer.accumulate_grad_batches)

    def train_dataloader(self) -> DataLoader:
        trainer = getattr(self, "trainer", None)
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        dataset = RandomCrops(
            self.train_clips,
            self.segment_samples,
            seed=self.seed,
            length=self.batches_per_epoch * self.batch_size,
            silence_db=self.silence_db,
            profile=self.profile,
        )
        sampler = StreamSampler(
            self.batch_size, self.batches_per_epoch, self._batches_consumed, rank, world
        )
        return StreamLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        crops = FixedCrops(
            self.val_clips,
            self.val_segment_samples,
            crops_per_clip=self.val_crops_per_file,
            max_crops=self.max_val_crops,
            silence_db=self.silence_db,
        )
        return DataLoader(crops, batch_size=self.val_batch_size, shuffle=False)


class SyntheticDataModule(AudioDataModule):
    """Decaying sine chords generated in memory: smoke runs and tests need no files.

    Args:
        num_clips: training clips (plus ``num_val_clips`` held out).
        clip_seconds: length of each clip.
        other arguments as ``AudioDataModule``.
    """

    def __init__(
        self, num_clips: int = 4, num_val_clips: int = 1, clip_seconds: float = 2.0, **kwargs
    ):
        kwargs.setdefault("val_fraction", 0.0)
        super().__init__(**kwargs)
        self.num_clips = num_clips
        self.num_val_clips = num_val_clips
        self.clip_seconds = clip_seconds

    def check_sources(self) -> None:
        """Synthetic chords need no folder."""

    def load_split(self) -> tuple[list[Clip], list[Clip]]:
        clips = [self._chord(i) for i in range(self.num_clips + self.num_val_clips)]
        return clips[: self.num_clips], clips[self.num_clips :]

    def _chord(self, i: int) -> Clip:
        n = max(round(self.clip_seconds * self.sample_rate), self.segment_samples)
        t = torch.arange(n, dtype=torch.float64) / self.sample_rate
        root = 110.0 * 2 ** ((3 * i % 12) / 12)
        wave = sum(torch.sin(2 * math.pi * root * r * t) for r in (1.0, 1.26, 1.5))
        wave = 0.2 * wave * torch.exp(-2.0 * (t % 0.5))
        return Clip(name=f"synthetic{i}", audio=wave.float())
