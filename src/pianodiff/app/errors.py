"""The page's own error: a request it refuses before any sampling, told in one line."""

from pianodiff.core.errors import UserError


class AppError(UserError):
    """A page request that cannot run (an upload too long, a setting out of range)."""


class GenerationCancelled(UserError):
    """The user pressed Cancel; raised from a plugin's step hook, so nothing is written."""
