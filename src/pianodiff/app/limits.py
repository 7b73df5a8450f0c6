"""What the page accepts: upload size and length, seconds of new audio, candidates.

Every check runs before a model is touched and ends in one line naming the limit and the
way around it (the command-line generator, which has none of these limits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from pianodiff.app.errors import AppError
from pianodiff.core.audio import AUDIO_EXTENSIONS, audio_info


@dataclass(frozen=True)
class Limits:
    """The page's caps (``pianodiff-app --max-upload-mb`` and friends).

    Attributes:
        upload_mb: largest prompt file, in MB (10^6 bytes); Gradio refuses larger uploads
            before they reach the page, and :func:`check_prompt_file` checks again.
        prompt_seconds: longest prompt recording.
        seconds: most new audio one request may ask for.
        candidates: most continuations sampled per window.
    """

    upload_mb: float = 20.0
    prompt_seconds: float = 60.0
    seconds: float = 60.0
    candidates: int = 4

    def __post_init__(self) -> None:
        for name in ("upload_mb", "prompt_seconds", "seconds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise AppError(f"limit {name} must be a number > 0, got {value!r}")
        if not isinstance(self.candidates, int) or self.candidates < 1:
            raise AppError(f"limit candidates must be a whole number >= 1, got {self.candidates}")

    @property
    def upload_bytes(self) -> int:
        return int(self.upload_mb * 1_000_000)


CLI_HINT = "or use python -m pianodiff.generate, which has no page limits"


def check_prompt_file(path: str | Path, limits: Limits, name: str | None = None) -> float:
    """The prompt's duration in seconds; one line if it is too big, too long or not audio.

    ``name`` is what the message calls the file (the user's file name, not the server's
    temporary path).
    """
    path = Path(path)
    shown = name or path.name
    if not path.is_file():
        raise AppError(f"prompt {shown} was not received; upload it again")
    size = path.stat().st_size
    if size > limits.upload_bytes:
        raise AppError(
            f"prompt {shown} is {size / 1e6:.1f} MB, over the {limits.upload_mb:g} MB upload "
            f"limit; upload a shorter excerpt ({CLI_HINT})"
        )
    try:
        _, seconds = audio_info(path)
    except Exception:
        raise AppError(
            f"prompt {shown} is not a sound file this page can read; "
            f"upload one of {', '.join(AUDIO_EXTENSIONS)}"
        ) from None
    if seconds <= 0:
        raise AppError(f"prompt {shown} holds no audio; upload a recording of piano")
    if seconds > limits.prompt_seconds:
        raise AppError(
            f"prompt {shown} is {seconds:.1f} s, over the {limits.prompt_seconds:g} s limit; "
            f"upload a shorter excerpt ({CLI_HINT})"
        )
    return seconds


def check_request(seconds: float, candidates: int, limits: Limits) -> None:
    """The page's caps on one request (the pipeline checks the values themselves)."""
    if isinstance(seconds, int | float) and seconds > limits.seconds:
        raise AppError(
            f"seconds={seconds:g} is over the page's {limits.seconds:g} s limit; ask for less "
            f"({CLI_HINT})"
        )
    if isinstance(candidates, int | float) and candidates > limits.candidates:
        raise AppError(
            f"candidates={candidates:g} is over the page's limit of {limits.candidates}; "
            "ask for fewer"
        )
