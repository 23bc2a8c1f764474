"""The one exception type a user sees: a message that says what is wrong and what to do."""


class ZynqyoloError(Exception):
    """A user-facing error. The CLI prints its message and exits with status 2."""


class AcceleratorError(ZynqyoloError):
    """The board did not do what the plan asked: a DMA error, a timeout, a register mismatch, or a
    plan the board's DMAs cannot carry out (found before anything is started)."""
