"""The one error type of the generate entrypoint: a bad request, told in one line."""

from pianodiff.core.errors import UserError


class GenerationError(UserError):
    """A generation request that cannot run; the message names the problem and the fix."""
