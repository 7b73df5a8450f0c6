"""Leave nothing behind: temp files of killed writes, run folders of rejected runs.

Every file pianodiff writes goes to a hidden temp beside its destination and is renamed
into place (``atomic_path`` here, used by audio, sidecars, figures and ``.ckpt`` files;
``checkpoint.export.export_model`` for export folders). The temp's name carries the writer's host
and process id (``.out.wav.x1y2.pid123-host.tmp``):

* an exception or Ctrl-C removes the temp on the way out; SIGTERM is turned into an exit
  that does the same (``exit_on_sigterm``);
* ``kill -9`` cannot be caught, so the next write to the same destination removes the temps
  whose writer, on this host, is no longer running (``remove_stale``).

A request refused before it produced anything leaves no run folder: ``RunFolder`` notes
what a folder held when the run began and, on refusal, removes what the run added, the
folder itself when it held only Hydra's own bookkeeping, and then its empty parents.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_TEMP = re.compile(r"\.pid(\d+)-([A-Za-z0-9]*)\.tmp$")
HYDRA_BOOKKEEPING = (".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml")


def temp_suffix() -> str:
    """The end of every temp name this process makes: ``.pid<pid>-<host>.tmp``."""
    return f".pid{os.getpid()}-{_HOST}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale(destination: str | Path) -> list[Path]:
    """Remove the temps of ``destination`` left by a killed writer on this host.

    Only names of the form ``.<destination name>.<random>.pid<N>-<this host>.tmp`` whose
    process N has ended are touched; a write still running elsewhere keeps its temp.
    """
    destination = Path(destination)
    folder, prefix = destination.parent, f".{destination.name}."
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.search(entry.name)
        if not entry.name.startswith(prefix) or match is None or match.group(2) != _HOST:
            continue
        if int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM exits via ``SystemExit(143)``, so ``finally`` blocks and
    context managers (temp-file removal) run as they do for Ctrl-C. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _detach_file_logs(folder: Path) -> None:
    """Close and remove every logging file handler writing under ``folder``.

    Hydra's job log handler stays on the root logger after an in-process run; once its
    folder is gone, the next record would reopen the deleted path and raise from inside
    logging (FileHandler opens lazily outside its own error handling).
    """
    loggers = [logging.getLogger()]
    loggers += [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in list(logger.handlers):
            if (
                isinstance(handler, logging.FileHandler)
                and folder in Path(handler.baseFilename).parents
            ):
                logger.removeHandler(handler)
                handler.close()


class RunFolder:
    """A run's folder, noted when the run begins, so a refused run can leave no trace.

    Args:
        path: the run folder (may not exist yet).
        stop_at: never remove this folder or any above it (e.g. the working directory or
            ``paths.output_dir``); empty parents below it are removed with the run folder.
        log_name: the Hydra job log (``train.log``) counted as bookkeeping, if any.
    """

    def __init__(self, path: str | Path, stop_at: str | Path, log_name: str | None = None):
        self.path = Path(path).absolute()
        self.stop_at = Path(stop_at).absolute()
        self.bookkeeping = set(HYDRA_BOOKKEEPING) | ({log_name} if log_name else set())
        # A run pointed at the working directory (or above) is never cleaned up.
        self.tracked = self.path != self.stop_at and self.path not in self.stop_at.parents
        self.before = self._files()

    def _files(self) -> set[str]:
        if not self.tracked or not self.path.is_dir():
            return set()
        return {p.relative_to(self.path).as_posix() for p in self.path.rglob("*")}

    def discard(self) -> None:
        """Remove what the run added; then the folder, if it held only bookkeeping."""
        if not self.tracked:
            return
        _detach_file_logs(self.path)
        added = sorted(self._files() - self.before, key=len, reverse=True)
        for rel in added:  # deepest first
            path = self.path / rel
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        files = {rel for rel in self.before if not (self.path / rel).is_dir()}
        if files <= self.bookkeeping:
            for rel in files:
                (self.path / rel).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                (self.path / ".hydra").rmdir()
            self._remove_empty_upwards()

    def _remove_empty_upwards(self) -> None:
        folder = self.path
        while True:
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                return
            folder = folder.parent
            if folder == self.stop_at or self.stop_at not in folder.parents:
                return


class atomic_path:
    """Context manager yielding a temp path beside ``path``; renamed onto it on success.

    On an exception (Ctrl-C included) the temp file is removed and ``path`` is left
    untouched; a temp left by ``kill -9`` is removed by the next write to ``path``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(self.path)  # temps of an earlier write that was killed
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=temp_suffix(), dir=str(self.path.parent)
        )
        os.close(fd)
        # mkstemp creates 0600; give the final file the permissions a plain open() would.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def hydra_run_folder() -> RunFolder | None:
    """The current Hydra job's folder as a ``RunFolder`` (bounded by the working
    directory), or None outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    return RunFolder(hc.runtime.output_dir, hc.runtime.cwd, f"{hc.job.name}.log")
