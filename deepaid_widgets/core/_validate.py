"""Turn user input into checked float arrays, with errors that say how to fix."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import InputError, describe


def _to_numpy(value: Any, parameter: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """An array from numpy, torch, pandas or nested lists, plus column names."""
    names = None
    if hasattr(value, "columns") and hasattr(value, "to_numpy"):  # DataFrame
        names = tuple(str(column) for column in value.columns)
        value = value.to_numpy()
    elif hasattr(value, "index") and hasattr(value, "to_numpy"):  # Series
        names = tuple(str(label) for label in value.index)
        value = value.to_numpy()
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # torch tensor
        if value.is_meta:
            raise InputError(
                parameter,
                "a tensor with data",
                "a tensor on the 'meta' device",
                "Pass a CPU or GPU tensor, or a numpy array.",
            )
        value = value.detach().cpu()
        value = (value.double() if value.is_floating_point() else value).numpy()
    if isinstance(value, str | bytes):
        raise InputError(
            parameter,
            "numbers (a 1-D array, a list, a tensor or a pandas row)",
            describe(value),
            "Pass the record's numeric feature vector.",
        )
    try:
        array = np.asarray(value)
    except Exception as error:
        raise InputError(
            parameter, "an array of numbers", describe(value), "Pass numbers."
        ) from error
    if array.dtype == object:
        with contextlib.suppress(TypeError, ValueError):
            array = array.astype(np.float64)
    if array.dtype.kind not in "biuf":
        bad = _first_non_numeric(array)
        raise InputError(
            parameter,
            "numbers only",
            f"an array of dtype {array.dtype}" + (f" holding {bad!r}" if bad else ""),
            "Encode text columns first (e.g. with the dataset's preprocessor), "
            "or pass the model-space vector.",
        )
    return array.astype(np.float64, copy=True), names


def _first_non_numeric(array: np.ndarray) -> object | None:
    for item in array.ravel()[:10_000]:
        try:
            float(item)
        except (TypeError, ValueError):
            return item
    return None


def _check_finite(array: np.ndarray, parameter: str, names: Sequence[str]) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        where = np.argwhere(bad)[:5]
        columns = [names[int(position[-1])] for position in where]
        raise InputError(
            parameter,
            "finite numbers",
            f"{int(bad.sum())} NaN or infinite value(s), first in {columns}",
            "Impute or drop missing values before explaining.",
        )


def as_record(
    x: Any, n_features: int | None, names: Sequence[str] | None = None
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """One record as a float64 array of shape ``(d,)`` plus its column names.

    Accepts shape ``(d,)`` or ``(1, d)``. ``n_features`` is the expected ``d``
    when known.
    """
    array, columns = _to_numpy(x, "x")
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise InputError(
            "x",
            "one record: shape (d,) or (1, d)",
            f"an array of shape {array.shape}",
            "Explain one record at a time, e.g. interpret(model, X[i]).",
        )
    if array.size == 0:
        raise InputError("x", "a non-empty record", "an empty array", "Pass a row.")
    if n_features is not None and array.size != n_features:
        raise InputError(
            "x",
            f"{n_features} features (the model's input width)",
            f"{array.size} features",
            "Pass the record in the model's input space (after preprocessing).",
        )
    _check_finite(array, "x", names or columns or _numbered(array.size))
    return array, columns


def as_rows(value: Any, parameter: str, n_features: int) -> np.ndarray:
    """Rows of shape ``(n, d)`` as float64, checked finite and non-empty."""
    array, _ = _to_numpy(value, parameter)
    if array.ndim == 1 and array.size == n_features:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != n_features or array.shape[0] == 0:
        raise InputError(
            parameter,
            f"a non-empty array of shape (n, {n_features})",
            f"an array of shape {array.shape}",
            f"Pass rows with {n_features} model-space features.",
        )
    _check_finite(array, parameter, _numbered(n_features))
    return array


def as_threshold(threshold: Any) -> float:
    """A finite, positive threshold."""
    ok = isinstance(threshold, int | float | np.integer | np.floating)
    if not ok or isinstance(threshold, bool):
        raise InputError(
            "threshold",
            "a positive number in the detector's score units",
            describe(threshold),
            "Pass threshold=<float>, or normal=<normal rows> to calibrate it.",
        )
    value = float(threshold)
    if not math.isfinite(value) or value <= 0:
        raise InputError(
            "threshold",
            "a finite number > 0 (the score is a reconstruction RMSE)",
            repr(value),
            "Pass threshold=<float>, or normal=<normal rows> to calibrate it.",
        )
    return value


def _numbered(n: int) -> tuple[str, ...]:
    return tuple(f"x{i}" for i in range(n))
