"""Audio crops for training: find files, load them once, cut seeded crops.

Every file is decoded once (mono, 22.05 kHz, via ``pianodiff.core.audio.read_audio``) and kept
in memory: the piano14 set is about 39 minutes, ~100 MB of float32, so training steps never
re-decode audio.

Training crops are a pure function of ``(seed, index)``: item ``index`` of the stream always
gives the same crop. The ``StreamSampler`` hands out indices from a position the trainer
supplies (batches consumed so far), so a resumed run continues the exact data stream.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, Sampler

from pianodiff.core.audio import AUDIO_EXTENSIONS, AudioError, read_audio

log = logging.getLogger(__name__)

SHORT_FILE_POLICIES = ("pad", "skip")


@dataclass
class Clip:
    """One loaded recording: ``audio`` (T,) float32 at the data set's sample rate."""

    name: str
    audio: torch.Tensor


def find_audio_files(root: str | Path, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """Every audio file under ``root`` (recursive), sorted, matched by suffix (any case)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"audio folder not found: {root} (set data.root=<folder of audio files>)"
        )
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in wanted)


def load_clips(
    files: Sequence[Path],
    sample_rate: int,
    min_samples: int,
    short_files: str = "pad",
) -> list[Clip]:
    """Decode ``files``; unreadable ones are skipped with a warning.

    Files shorter than ``min_samples`` are zero-padded at the end (``short_files="pad"``) or
    left out (``"skip"``), with a warning either way.
    """
    if short_files not in SHORT_FILE_POLICIES:
        raise ValueError(
            f"data.short_files must be one of {SHORT_FILE_POLICIES}, got {short_files!r}"
        )
    clips = []
    for path in files:
        try:
            audio = read_audio(path, sample_rate)
        except AudioError as err:
            log.warning("skipping %s", err)
            continue
        if len(audio) < min_samples:
            seconds = len(audio) / sample_rate
            need = min_samples / sample_rate
            if short_files == "skip":
                log.warning(
                    "skipping %s: %.2f s is shorter than a %.2f s crop", path, seconds, need
                )
                continue
            log.warning("padding %s: %.2f s is shorter than a %.2f s crop", path, seconds, need)
            audio = torch.nn.functional.pad(audio, (0, min_samples - len(audio)))
        clips.append(Clip(name=str(path), audio=audio.contiguous()))
    return clips


def rms_db(audio: torch.Tensor) -> float:
    """Root-mean-square level of (T,) audio in dBFS (−inf for digital silence)."""
    rms = float(audio.float().pow(2).mean().sqrt())
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def stream_seed(seed: int, index: int) -> int:
    """A 63-bit seed for item ``index`` of stream ``seed`` (splitmix64-style mixing)."""
    z = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + 1) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    z = (z * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 29)) & 0x7FFFFFFFFFFFFFFF


PastFeature = Callable[[torch.Tensor, int], torch.Tensor]
"""(audio (end,): a clip up to a point, that point's sample index ``end``) -> a feature (bins,)
of the audio before it."""


class RandomCrops(Dataset):
    """Seeded random crops: item ``index`` is a ``segment_samples`` crop, (T,) float32.

    A crop start is uniform over all valid positions of all clips (long pieces are drawn in
    proportion to their length). With ``silence_db`` set, crops quieter than that RMS level
    are redrawn (up to ``max_redraws`` times) so the model does not learn from silence.

    With ``profile`` (e.g. ``measures.past_profile.PastProfile``) item ``index`` is the pair
    (crop (T,), profile (bins,)), the profile computed from the crop's clip up to the crop's
    first sample: the audio before the crop in the same file, never the crop or what follows.
    The crops themselves are the same as without it.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        segment_samples: int,
        seed: int = 0,
        length: int = 1_000_000,
        silence_db: float | None = None,
        max_redraws: int = 10,
        profile: PastFeature | None = None,
    ):
        if not clips:
            raise ValueError("RandomCrops needs at least one clip")
        self.clips = list(clips)
        self.segment_samples = segment_samples
        self.seed = seed
        self.length = length
        self.silence_db = silence_db
        self.max_redraws = max_redraws
        self.profile = profile
        starts = [len(c.audio) - segment_samples + 1 for c in self.clips]
        self.cumulative = torch.tensor(starts, dtype=torch.long).cumsum(0)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(stream_seed(self.seed, int(index)))
        for _ in range(self.max_redraws + 1):
            clip, start = self._locate(gen)
            crop = clip.audio[start : start + self.segment_samples].clone()
            if self.silence_db is None or rms_db(crop) >= self.silence_db:
                break
        if self.profile is None:
            return crop
        return crop, self.profile(clip.audio[:start], start)

    def _locate(self, gen: torch.Generator) -> tuple[Clip, int]:
        """A uniformly drawn (clip, crop start) from ``gen``."""
        total = int(self.cumulative[-1])
        pos = int(torch.randint(total, (1,), generator=gen))
        clip_idx = int(torch.searchsorted(self.cumulative, pos, right=True))
        start = pos - (int(self.cumulative[clip_idx - 1]) if clip_idx > 0 else 0)
        return self.clips[clip_idx], start


class FixedCrops(Dataset):
    """Deterministic validation crops: up to ``crops_per_clip`` evenly spaced per clip.

    Crops quieter than ``silence_db`` are left out; at most ``max_crops`` are kept.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        segment_samples: int,
        crops_per_clip: int = 4,
        max_crops: int | None = 32,
        silence_db: float | None = None,
    ):
        self.crops: list[torch.Tensor] = []
        for clip in clips:
            span = len(clip.audio) - segment_samples
            n = max(1, min(crops_per_clip, span // max(segment_samples, 1) + 1))
            for k in range(n):
                start = 0 if n == 1 else round(k * span / (n - 1))
                crop = clip.audio[start : start + segment_samples].clone()
                if silence_db is None or rms_db(crop) >= silence_db:
                    self.crops.append(crop)
        if max_crops is not None and len(self.crops) > max_crops:
            keep = torch.linspace(0, len(self.crops) - 1, max_crops).round().long().unique()
            self.crops = [self.crops[int(i)] for i in keep]

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.crops[index]


class StreamSampler(Sampler[int]):
    """Indices of one epoch of the training stream, starting where training stands.

    Batch ``b`` of the whole run (counted over all epochs and resumes) on rank ``r`` holds
    items ``(b · world_size + r) · batch_size + j``. ``position`` returns the number of
    batches this rank has consumed so far when an epoch starts (e.g. the trainer's global
    step), so a resumed run picks up the stream exactly where the checkpoint left it.
    """

    def __init__(
        self,
        batch_size: int,
        batches_per_epoch: int,
        position: Callable[[], int],
        rank: int = 0,
        world_size: int = 1,
    ):
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.position = position
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        return self.batches_per_epoch * self.batch_size

    def __iter__(self) -> Iterator[int]:
        first = int(self.position())
        for b in range(first, first + self.batches_per_epoch):
            base = (b * self.world_size + self.rank) * self.batch_size
            yield from range(base, base + self.batch_size)
