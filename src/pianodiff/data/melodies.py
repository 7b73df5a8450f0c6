"""The melodies selection: monophonic folk tunes from music21's own corpus.

Four collections of single-line tunes ship inside the ``music21`` wheel as ABC files:
Aird's Airs, O'Neill's 1850, Ryan's Mammoth Collection and the Essen folk song collection
(thousands of tunes). From each, ``PER_COLLECTION`` tunes are taken at evenly spaced
positions of its tune list (files sorted by name, tunes in the order of their ``X:``
numbers in the file), so the set spans every collection without any randomness; the
picks at positions ``HELD_OUT_EVERY // 2``, ``+ HELD_OUT_EVERY``, ... of each collection
are held out for evaluation. A tune is addressed as ``<corpus path>#<X number>``.

The same music21 release gives the same selection (it depends only on the corpus files);
the manifest records every tune's address, so a set made with another release is traceable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pianodiff.data.piano14 import Piece, select_from

COLLECTIONS = ("airdsAirs", "oneills1850", "ryansMammoth", "essenFolksong")
PER_COLLECTION = 36
HELD_OUT_EVERY = 12  # 3 of each collection's 36 picks are held out
_X_FIELD = re.compile(r"^X:\s*(\d+)", re.MULTILINE)


def tune_numbers(abc_file: Path) -> list[int]:
    """The ``X:`` reference numbers of an ABC file, in file order, without repeats."""
    text = Path(abc_file).read_text(encoding="utf-8", errors="replace")
    return list(dict.fromkeys(int(m.group(1)) for m in _X_FIELD.finditer(text)))


def collection_tunes(collection: str) -> list[tuple[str, int]]:
    """Every tune of a corpus collection as (corpus path, X number), in a fixed order."""
    from music21 import corpus

    files = sorted(corpus.getComposer(collection), key=lambda p: Path(p).name)
    if not files:
        raise ValueError(f"music21's corpus has no {collection!r} collection; reinstall music21")
    return [(f"{collection}/{Path(f).name}", x) for f in files for x in tune_numbers(Path(f))]


def spread(items: list, count: int) -> list:
    """``count`` items at evenly spaced positions (centres of equal parts) of ``items``."""
    n = len(items)
    return [items[int((k + 0.5) * n / count)] for k in range(min(count, n))]


def tune_id(corpus_path: str, number: int) -> str:
    """A file-name-safe id: ``oneills1850/0001-0050.abc``, 7 -> ``oneills1850_0001_0050_7``."""
    stem = corpus_path.rsplit(".", 1)[0]
    return re.sub(r"[^a-z0-9]+", "_", f"{stem}_{number}".lower()).strip("_")


@lru_cache(maxsize=1)
def melody_table() -> tuple[Piece, ...]:
    """The selected tunes (train and eval), collection by collection."""
    pieces = []
    for collection in COLLECTIONS:
        for k, (path, number) in enumerate(spread(collection_tunes(collection), PER_COLLECTION)):
            split = "eval" if k % HELD_OUT_EVERY == HELD_OUT_EVERY // 2 else "train"
            pieces.append(Piece(tune_id(path, number), f"{path}#{number}", split, monophonic=True))
    return tuple(pieces)


def select(pieces: str | list[str] | None = None) -> list[Piece]:
    """The tunes named (ids, comma-separated or a list), or all of them.

    Raises:
        ValueError: an unknown id (the message lists a few valid ones).
    """
    return select_from(melody_table(), pieces)
