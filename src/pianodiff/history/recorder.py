"""Record the diffusion history of a generation from the sampler's per-step callback.

``HistoryRecorder`` is a plain callable: pass it as ``sample(..., callback=recorder)``. It
keeps a bounded number of frames (about ``max_frames``, default 60) spread evenly over the
whole walk — also over RePaint walks that go back up — whatever the output length:

* Only the window being generated is stored: the callback tensors *are* the window (B, T),
  never the whole song, and only one batch item (``batch_index``, default 0) is kept. With
  ``batch_index=None`` all B candidates are kept until ``choose(b)`` keeps the one the
  generator selected (B× the memory while the window is sampled).
* Frames are thinned by stride doubling: every ``stride``-th move is recorded; when the
  buffer would exceed ``max_frames``, every other frame is dropped and the stride doubles.
  So the frame count stays in (max_frames/2, max_frames] for any number of windows or moves
  and needs no knowledge of the walk length in advance.
* The last move of each window (its x̂0 is the window's result) is kept when the window
  ends, and the very last move of the whole run is always kept.
* Tensors live on the CPU as float16: audio and x_t (|x_t| of a few units at most) fit its
  range; 3 significant digits are plenty for plots, and memory halves against float32.

Memory: at most ``max_frames`` × 2 tensors × window samples × 2 bytes, plus one bool mask
per window still shown by a frame (masks of windows thinned away are freed); ``nbytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

# Payload keys written by diffusion/sampler.py; anything else is the inpainter's own
# parameters (``Inpainter.describe``), e.g. {"lambda": 0.3}.
STANDARD_KEYS = frozenset(
    {
        "index",
        "level",
        "next_level",
        "direction",
        "t",
        "alpha_bar",
        "x_t",
        "x0_hat",
        "known_mask",
        "nfe",
        # added by generation/engine.py: already known from start_window
        "window",
        "num_windows",
    }
)
STORE_DTYPE = torch.float16


@dataclass
class WindowInfo:
    """One window of a long generation.

    Attributes:
        index: the window's number (0 = base window).
        offset_samples: where the window starts in the output, in samples.
        known_mask: (T,) bool, the known region of the window (None until its first step).
        seams: seam positions inside the window, in samples from the window start.
        label: free text for the frame title (e.g. "base", "extension 3").
        num_moves: moves of this window's walk, when known (for "step i/n" titles).
    """

    index: int
    offset_samples: int = 0
    known_mask: torch.Tensor | None = None
    seams: list[int] = field(default_factory=list)
    label: str = ""
    num_moves: int | None = None


@dataclass
class HistoryFrame:
    """One recorded move of the walk.

    Attributes:
        move: running move number over the whole recording (all windows).
        window: index into ``HistoryRecorder.windows``.
        step: position in this window's walk (payload "index").
        level, next_level, direction, t, alpha_bar, nfe: as in the sampler payload.
        x_t: (T,) float16 CPU, the sample at ``level`` ((B, T) until ``choose``).
        x0_hat: (T,) float16 CPU, the model's clean estimate; None on "up" moves.
        params: the inpainter's own parameters for this step (e.g. {"lambda": 0.3}).
    """

    move: int
    window: int
    step: int
    level: int
    next_level: int
    direction: str
    t: float
    alpha_bar: float
    nfe: int
    x_t: torch.Tensor
    x0_hat: torch.Tensor | None
    params: dict[str, float]

    @property
    def nbytes(self) -> int:
        n = self.x_t.numel() * self.x_t.element_size()
        if self.x0_hat is not None:
            n += self.x0_hat.numel() * self.x0_hat.element_size()
        return n


def _scalar_params(payload: dict[str, Any]) -> dict[str, float]:
    """The payload's non-standard numeric entries (the inpainter's parameters)."""
    out: dict[str, float] = {}
    for key, value in payload.items():
        if key in STANDARD_KEYS:
            continue
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, int | float | bool):
            out[key] = float(value)
    return out


class HistoryRecorder:
    """A sampler callback that keeps a bounded, evenly thinned history of the walk.

    Args:
        max_frames: the most frames kept over the whole recording (≥ 2).
        batch_index: which batch item of the (B, T) payload tensors to keep; None keeps all
            of them until ``choose`` picks one (for candidates=N runs).
        label: a name for the animation (e.g. the extender's name).
        sample_rate: of the audio, for the renderer's time axis.
    """

    def __init__(
        self,
        max_frames: int = 60,
        batch_index: int | None = 0,
        label: str = "",
        sample_rate: int = 22050,
    ):
        if max_frames < 2:
            raise ValueError(f"max_frames must be at least 2, got {max_frames}")
        self.max_frames = int(max_frames)
        self.batch_index = batch_index
        self.label = label
        self.sample_rate = int(sample_rate)
        self.frames: list[HistoryFrame] = []
        self.windows: list[WindowInfo] = []
        self.stride = 1
        self._moves = 0
        self._pending: HistoryFrame | None = None  # the latest move, if it was not recorded
        self._seams_given = False

    # -- window boundaries ---------------------------------------------------------------
    def start_window(
        self,
        index: int,
        offset_samples: int = 0,
        seams: list[int] | None = None,
        label: str = "",
        num_moves: int | None = None,
    ) -> None:
        """Mark the start of a new window; the frames that follow belong to it.

        Args:
            index: the window's number in the generation (0 = base window).
            offset_samples: the window's start in the final output, in samples.
            seams: seam positions in samples from the window start; when None they are the
                edges of the known region (taken from the first step's mask).
            label: free text shown on its frames.
            num_moves: the length of the window's walk, if known (shown as "step i/n").
        """
        self._close_window()
        self._drop_unused_masks()
        self.windows.append(
            WindowInfo(int(index), int(offset_samples), None, list(seams or []), label, num_moves)
        )
        self._seams_given = seams is not None

    def expect(self, total_moves: int, windows: int = 1) -> None:
        """Announce the walk's total moves over ``windows`` windows so frames are spread
        evenly (room is left for each window's last move); without it the stride adapts."""
        room = self.max_frames - int(windows)
        if room >= 1:
            self.stride = max(self.stride, -(-int(total_moves) // room))

    def choose(self, candidate: int) -> None:
        """Keep only batch item ``candidate`` in the current window's frames (batch_index=None)."""
        self._close_window()
        w = len(self.windows) - 1
        for f in self.frames:
            if f.window == w and f.x_t.ndim == 2:
                f.x_t = f.x_t[candidate].clone()
                f.x0_hat = None if f.x0_hat is None else f.x0_hat[candidate].clone()
        info = self.windows[w]
        if info.known_mask is not None and info.known_mask.ndim == 2:
            info.known_mask = info.known_mask[candidate].clone()

    def finish(self) -> HistoryRecorder:
        """Keep the last move of the current window; call after the final ``sample``.

        Frames still holding all candidates (batch_index=None, no ``choose``) keep the first.
        """
        self._close_window()
        for f in self.frames:
            if f.x_t.ndim == 2:
                f.x_t = f.x_t[0].clone()
                f.x0_hat = None if f.x0_hat is None else f.x0_hat[0].clone()
        for w in self.windows:
            if w.known_mask is not None and w.known_mask.ndim == 2:
                w.known_mask = w.known_mask[0].clone()
        return self

    # -- the sampler callback ------------------------------------------------------------
    def __call__(self, payload: dict[str, Any]) -> None:
        if not self.windows:
            self.start_window(0, 0)
        window = self.windows[-1]
        if window.known_mask is None:
            mask = self._pick(payload["known_mask"]).detach().to("cpu") > 0.5
            window.known_mask = mask
            if not self._seams_given:
                window.seams = mask_edges(mask if mask.ndim == 1 else mask[0])
        frame = self._frame(payload, len(self.windows) - 1)
        if self._moves % self.stride == 0:
            self.frames.append(frame)
            self._pending = None
            self._thin()
        else:
            self._pending = frame
        self._moves += 1

    # -- inspection ----------------------------------------------------------------------
    @property
    def num_moves(self) -> int:
        """Moves seen so far (all windows)."""
        return self._moves

    @property
    def nbytes(self) -> int:
        """Bytes held by the recorded tensors (frames, the pending frame and masks)."""
        total = sum(f.nbytes for f in self.frames)
        if self._pending is not None:
            total += self._pending.nbytes
        total += sum(w.known_mask.numel() for w in self.windows if w.known_mask is not None)
        return total

    # -- internals -----------------------------------------------------------------------
    def _pick(self, x: torch.Tensor) -> torch.Tensor:
        """The kept batch item (T,) of a (B, T) tensor, or all of it (batch_index=None)."""
        return x if self.batch_index is None else x[self.batch_index]

    def _frame(self, payload: dict[str, Any], window: int) -> HistoryFrame:
        x0 = payload.get("x0_hat")
        return HistoryFrame(
            move=self._moves,
            window=window,
            step=int(payload.get("index", 0)),
            level=int(payload.get("level", 0)),
            next_level=int(payload.get("next_level", 0)),
            direction=str(payload.get("direction", "down")),
            t=float(payload.get("t", 0.0)),
            alpha_bar=float(payload.get("alpha_bar", 0.0)),
            nfe=int(payload.get("nfe", 0)),
            x_t=_keep(self._pick(payload["x_t"])),
            x0_hat=None if x0 is None else _keep(self._pick(x0)),
            params=_scalar_params(payload),
        )

    def _close_window(self) -> None:
        """The window ended: keep its last move (its result) if it was skipped."""
        if self._pending is not None:
            self.frames.append(self._pending)
            self._pending = None
            self._thin()

    def _thin(self) -> None:
        """Halve the buffer (keeping the newest frame) once it exceeds ``max_frames``."""
        while len(self.frames) > self.max_frames:
            newest = self.frames[-1]
            kept = self.frames[::2]
            kept[-1] = newest  # a no-op when the newest is at an even position
            self.frames = kept
            self.stride *= 2
        self._drop_unused_masks()

    def _drop_unused_masks(self) -> None:
        """Free the masks of past windows that no frame shows any more (bounded memory)."""
        shown = {f.window for f in self.frames}
        for i, w in enumerate(self.windows[:-1]):
            if i not in shown:
                w.known_mask = None


def _keep(x: torch.Tensor) -> torch.Tensor:
    """A detached CPU float16 copy of a (T,) or (B, T) tensor."""
    return x.detach().to(device="cpu", dtype=STORE_DTYPE, copy=True)


def mask_edges(mask: torch.Tensor) -> list[int]:
    """Sample positions where a (T,) bool mask switches between known and generated."""
    m = mask.to(torch.int8)
    return (torch.nonzero(m[1:] != m[:-1]).flatten() + 1).tolist()
