"""Checks and small conversions of pandas input for the tabular preprocessor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._errors import InputError, describe


def checked_names(parameter: str, names: Sequence[str]) -> tuple[str, ...]:
    if (
        isinstance(names, str)
        or not all(isinstance(name, str) for name in names)
        or len(set(names)) != len(names)
    ):
        raise InputError(
            parameter,
            "a sequence of distinct column names (str)",
            describe(names),
            f"Pass a list of names, e.g. {parameter}=['service'].",
        )
    return tuple(names)


def as_frame(frame: pd.DataFrame | pd.Series) -> pd.DataFrame:
    if isinstance(frame, pd.Series):
        return frame.to_frame().T
    if isinstance(frame, pd.DataFrame):
        return frame
    raise InputError(
        "frame",
        "a pandas DataFrame (records) or Series (one record)",
        describe(frame),
        "Wrap arrays in pd.DataFrame(values, columns=preprocessor columns).",
    )


def check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise InputError(
            "frame",
            f"columns {missing[:10]}",
            f"a frame without them (it has {list(frame.columns)[:8]}...)",
            "Add the missing columns or fit on the columns you have.",
        )


def as_text(column: pd.Series) -> np.ndarray:
    return np.asarray([str(value) for value in column.tolist()], dtype=object)


def normal_mask(normal: Sequence[bool] | None, n_rows: int) -> np.ndarray:
    if normal is None:
        return np.ones(n_rows, dtype=bool)
    mask = np.asarray(normal)
    if mask.dtype != bool or mask.shape != (n_rows,) or not mask.any():
        raise InputError(
            "normal",
            f"a boolean mask of shape ({n_rows},) with at least one True",
            describe(mask),
            "Pass e.g. frame['label'] == 'normal'.",
        )
    return mask


def whole_if_near(values: np.ndarray) -> np.ndarray:
    """Whole numbers where float32 model space left them a hair off (245.99998)."""
    whole = np.round(values)
    near = np.abs(values - whole) <= 1e-4 * np.maximum(1.0, np.abs(values))
    return np.where(near, whole, values)


def all_whole(column: pd.Series) -> bool:
    values = column.to_numpy(dtype=np.float64)
    return bool(np.all(values == np.round(values)))
