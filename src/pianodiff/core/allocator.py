"""Keep freed conv buffers in glibc's heap instead of returning them to the OS.

On CPU, DiffWave's activations are large (channels × samples) and short-lived. glibc serves
such blocks with mmap and unmaps them on free, so every layer page-faults its buffers back
in. ``mallopt(M_MMAP_MAX, 0)`` and a huge ``M_TRIM_THRESHOLD`` — the in-process form of
``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000`` — keep them in the heap
(docs/benchmarks.md: a 5 s base-size forward 1.4–2.7× faster). The price is a process that
keeps its peak memory until it exits, which suits the entrypoints, so they call this;
importing pianodiff as a library changes nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # from glibc's <malloc.h>
M_MMAP_MAX = -4


def tune_allocator() -> bool:
    """Apply the settings; False where they don't apply or the user chose otherwise.

    Skipped off Linux/glibc, when either MALLOC_* variable is already set (the user's
    choice wins), and when PIANODIFF_DEFAULT_MALLOC=1.
    """
    if not sys.platform.startswith("linux") or os.environ.get("PIANODIFF_DEFAULT_MALLOC") == "1":
        return False
    if "MALLOC_MMAP_MAX_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 10**11))
