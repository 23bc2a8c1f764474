"""The one exception type a user sees: a message that says what is wrong and what to do."""


class ZynqyoloError(Exception):
    """A user-facing error. The CLI prints its message and exits with status 2."""


class AcceleratorError(ZynqyoloError):
    """The board did not do what the plan asked: a DMA error, a timeout, a register mismatch, or a
    plan the board's DMAs cannot carry out (found before anything is started)."""


class InvalidInput(ZynqyoloError, ValueError):
    """A value, file or array a user gave that is not what it must be (``zynqyolo.validate``). Also a
    ``ValueError``, so library code that catches ValueError for bad configuration still does."""


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM). Raised by the CLI's signal handler so that every
    ``with`` block unwinds (atomic writers remove their temporary files) before the process exits;
    a BaseException, like KeyboardInterrupt, so ``except Exception`` does not swallow it."""
