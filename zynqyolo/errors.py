"""The one exception type a user sees: a message that says what is wrong and what to do."""


class ZynqyoloError(Exception):
    """A user-facing error. The CLI prints its message and exits with status 2."""
