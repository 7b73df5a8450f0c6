"""Window geometry: how long audio is cut into inpainting windows.

Every extension window is ``window_seconds`` long; its first ``context_seconds`` are the
tail of what exists (known), the rest is new. The last window is trimmed so that the
output is exactly as long as asked. A crossfade of ``crossfade_seconds`` inside the context
blends the existing audio into the window's own version of it just before each seam.
"""

from __future__ import annotations

from dataclasses import dataclass

from pianodiff.generation.errors import GenerationError


@dataclass(frozen=True)
class Geometry:
    """Window lengths in seconds (converted to samples with ``samples``)."""

    window_seconds: float = 5.0
    context_seconds: float = 1.0
    crossfade_seconds: float = 0.05

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise GenerationError("geometry.window_seconds must be > 0")
        if not 0 <= self.context_seconds < self.window_seconds:
            raise GenerationError(
                "geometry.context_seconds must be >= 0 and smaller than window_seconds"
            )
        if not 0 <= self.crossfade_seconds <= self.context_seconds:
            raise GenerationError(
                "geometry.crossfade_seconds must be between 0 and context_seconds"
            )

    def samples(self, sample_rate: int) -> tuple[int, int, int]:
        """(window, context, crossfade) in samples."""
        return (
            round(self.window_seconds * sample_rate),
            round(self.context_seconds * sample_rate),
            round(self.crossfade_seconds * sample_rate),
        )

    @property
    def new_seconds(self) -> float:
        """Seconds added by one full extension window."""
        return self.window_seconds - self.context_seconds


@dataclass(frozen=True)
class WindowSpan:
    """One extension window: ``context`` known samples followed by ``new`` samples."""

    index: int
    context: int
    new: int

    @property
    def length(self) -> int:
        return self.context + self.new


def layout(existing: int, new_total: int, window: int, context: int) -> list[WindowSpan]:
    """Extension windows that add ``new_total`` samples after ``existing`` ones.

    The context of each window is min(context, audio so far), so a short ground file is
    used whole; the last window is trimmed to the remaining samples.
    """
    spans: list[WindowSpan] = []
    have, left, per_window = existing, new_total, window - context
    while left > 0:
        ctx = min(context, have)
        new = min(per_window if ctx == context else window - ctx, left)
        spans.append(WindowSpan(len(spans), ctx, new))
        have += new
        left -= new
    return spans
