"""The one convention for requests that cannot run, shared by every entrypoint.

A user error (a bad value, a missing or hostile file, an output that exists) is an
exception whose message is one line naming the problem and the fix. Every room's own
error type derives from :class:`UserError`; ``train``, ``generate`` and ``evaluate`` print
``error: <message>`` on stderr and exit with status 2 (:data:`USER_ERROR_EXIT`, the same
status as a refused command line), after undoing what the run had started.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

USER_ERROR_EXIT = 2


class UserError(ValueError):
    """A request that cannot run; the message is one line naming the problem and the fix."""


# Besides our own: the standard errors for an output that exists / an input that does not.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileExistsError, FileNotFoundError)


@contextmanager
def exit_on_user_error(undo: Callable[[], None] | None = None) -> Iterator[None]:
    """Run the body; a user error calls ``undo`` (e.g. remove the run folder), prints one
    ``error:`` line and exits with :data:`USER_ERROR_EXIT`. Anything else propagates."""
    try:
        yield
    except USER_ERRORS as err:
        if undo is not None:
            undo()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
