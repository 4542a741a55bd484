"""The one family of exceptions the package raises for bad input."""

from __future__ import annotations


class InputError(ValueError):
    """A call received something it cannot use.

    The message names the parameter, what was expected, what came, and how to
    fix it. Nothing the caller passed has been modified when this is raised.
    """

    def __init__(self, parameter: str, expected: str, received: str, fix: str) -> None:
        self.parameter = parameter
        self.expected = expected
        self.received = received
        self.fix = fix
        super().__init__(
            f"{parameter}: expected {expected}, got {received}. {fix}".rstrip()
        )


class ModelError(RuntimeError):
    """The user's detector raised, or returned something unusable, when scored."""


def describe(value: object) -> str:
    """A short, safe description of a received value for error messages."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
