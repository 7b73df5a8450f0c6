"""Warnings from libraries that do not apply to pianodiff, silenced in this one place.

Imported by the package itself, so the entrypoints, the API and the test suite all see the
same filters. Each one matches a single message and says why it is safe to hide; a warning
whose cause is pianodiff's own is fixed at the cause instead (the crop-stream DataLoader,
for one, tells Lightning that it resumes mid-epoch: ``data.datamodule.StreamLoader``).
"""

from __future__ import annotations

import warnings

IGNORED_MESSAGES = (
    # The EMA copy of the network stays in eval mode on purpose (it is averaged, never
    # trained: ema.py); Lightning counts its sub-modules as "in eval mode at the start".
    r"Found \d+ module\(s\) in eval mode at the start of training",
    # Lightning's own pytree helper calls a check that torch deprecated; nothing here uses
    # it, and it goes away when Lightning updates.
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # A resumed run writes into a run folder of its own, so ModelCheckpoint cannot reload its
    # best-k bookkeeping from the old folder: the new folder's best.ckpt is the best since
    # the resume (docs/training.md), which is what it is meant to be.
    r"The dirpath has changed from .* won't be reloaded",
    # torch's weights-only reader notes the pickle protocol of a file before it reads or
    # refuses it; a refused file already gets one line saying why (checkpoint/ckpt_io.py).
    r"Detected pickle protocol \d+ in the checkpoint",
    # torch.compile's own start-up touches a deprecated torch.jit helper (module.compile_net).
    r"`torch\.jit\.script_method` is deprecated",
    # audioread, which librosa imports for the note measure, imports standard modules that
    # Python 3.13 drops; pianodiff reads audio with soundfile, never through audioread.
    r"'(aifc|audioop|sunau)' is deprecated and slated for removal",
    # Gradio's queue (the web page, app/) builds its request table with pandas options that
    # pandas 3 deprecated; the page passes no data frames through them.
    r"'future\.no_silent_downcasting' is deprecated",
    r"The copy keyword is deprecated and will be removed in a future version",
)


def install() -> None:
    """Add the filters (idempotent: ``warnings`` drops exact duplicates)."""
    for message in IGNORED_MESSAGES:
        warnings.filterwarnings("ignore", message=message)


install()
