"""Turn a table of mixed columns into the float vectors a detector reads, and back."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._errors import InputError, describe
from ..core.schema import FeatureGroup, TabularSchema
from ._frames import (
    all_whole,
    as_frame,
    as_text,
    check_columns,
    checked_names,
    normal_mask,
    whole_if_near,
)

_STATE_KEYS = (
    "columns",
    "categorical",
    "log_scaled",
    "category_values",
    "category_counts",
    "minimum",
    "maximum",
)


class TabularPreprocessor:
    """One-hot categoricals, optional ``log1p``, then min-max scaling.

    A categorical column expands in place into one dimension per category;
    every other column is one dimension, ``log1p``-ed when listed in
    ``log_scaled`` and then mapped by ``(x - min) / (max - min)`` with min and
    max taken over the normal rows given to :meth:`fit`, so normal data lands
    in ``[0, 1]`` and anomalies may leave it. A column constant on the normal
    rows gets a scale of 1 (it is only shifted).

    Parameters
    ----------
    categorical : sequence of str
        Columns to one-hot encode.
    log_scaled : sequence of str, optional
        Numeric columns of non-negative, heavy-tailed counts to ``log1p``.
    columns : sequence of str, optional
        Columns to use, in model order. Default: every column of the frame
        given to :meth:`fit`, in its order.
    categories : mapping of str to sequence of str, optional
        Categories to know in addition to those seen by :meth:`fit`, e.g. a
        protocol's full list of services.
    """

    #: What :meth:`inverse_transform` writes for a one-hot group with no
    #: positive dimension (a category unseen by :meth:`fit`).
    unknown_category = "<unknown>"

    def __init__(
        self,
        categorical: Sequence[str],
        log_scaled: Sequence[str] = (),
        columns: Sequence[str] | None = None,
        categories: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._categorical = checked_names("categorical", categorical)
        self._log_scaled = checked_names("log_scaled", log_scaled)
        self._requested = None if columns is None else checked_names("columns", columns)
        self._extra = {
            str(k): tuple(map(str, v)) for k, v in (categories or {}).items()
        }
        stray = sorted(set(self._extra) - set(self._categorical))
        if stray:
            raise InputError(
                "categories",
                "keys that are categorical columns",
                f"keys {stray}",
                "List these columns in categorical, or drop them from categories.",
            )
        both = sorted(set(self._categorical) & set(self._log_scaled))
        if both:
            raise InputError(
                "log_scaled",
                "numeric columns only",
                f"categorical columns {both}",
                "Remove them from log_scaled; categorical columns are one-hot.",
            )
        self._columns: tuple[str, ...] | None = None

    def fit(
        self, frame: pd.DataFrame, normal: Sequence[bool] | None = None
    ) -> TabularPreprocessor:
        """Learn categories from all rows and scaling from the normal rows.

        Parameters
        ----------
        frame : pandas.DataFrame
            Training records, one per row. Not modified.
        normal : array-like of bool, shape (n,), optional
            True for the rows that are normal. Default: every row.

        Returns
        -------
        TabularPreprocessor
            ``self``, fitted.
        """
        if not isinstance(frame, pd.DataFrame) or frame.empty:
            raise InputError(
                "frame",
                "a non-empty pandas DataFrame",
                describe(frame),
                "Pass the training records as a DataFrame.",
            )
        columns = self._requested
        if columns is None:
            columns = checked_names("frame.columns", tuple(frame.columns))
        check_columns(frame, columns)
        for name in (*self._categorical, *self._log_scaled):
            if name not in columns:
                raise InputError(
                    "frame" if self._requested is None else "columns",
                    f"to include {name!r}, listed as categorical or log-scaled",
                    f"columns {list(columns)[:8]}",
                    f"Add {name!r} to columns or drop it from the other lists.",
                )
        mask = normal_mask(normal, len(frame))

        categories = {}
        for name in self._categorical:
            if frame[name].isna().any():
                raise InputError(
                    "frame",
                    f"no missing values in categorical column {name!r}",
                    f"{int(frame[name].isna().sum())} missing",
                    "Fill them with a category of their own, e.g. 'missing'.",
                )
            seen = set(as_text(frame[name]))
            categories[name] = tuple(sorted(seen | set(self._extra.get(name, ()))))
        numeric = np.zeros((len(frame), 0))
        if self._numeric_columns_of(columns):
            numeric = np.column_stack(
                [self._numeric(frame, n) for n in self._numeric_columns_of(columns)]
            )
        # Counts stay counts: a column whole in every row is integer-valued.
        integer = np.array(
            [all_whole(frame[name]) for name in self._numeric_columns_of(columns)],
            dtype=bool,
        )
        normal_rows = numeric[mask]
        self._set_state(
            columns, categories, normal_rows.min(axis=0), normal_rows.max(axis=0)
        )
        self._integer = integer
        return self

    def transform(self, frame: pd.DataFrame | pd.Series) -> np.ndarray:
        """Encode records into model space.

        Parameters
        ----------
        frame : pandas.DataFrame or pandas.Series
            Records with (at least) the fitted columns; a Series is one record
            indexed by column name. Not modified.

        Returns
        -------
        numpy.ndarray of float32, shape (n, d)
            One-hot groups and scaled numeric columns in ``feature_names``
            order. A category unseen by :meth:`fit` gives zeros in its group
            and a warning.
        """
        self._require_fitted()
        frame = as_frame(frame)
        check_columns(frame, self._columns)

        encoded = np.zeros((len(frame), self.n_features), dtype=np.float32)
        for group in self._schema.groups:
            if group.is_categorical:
                labels = as_text(frame[group.name])
                codes = pd.Index(group.categories).get_indexer(labels)
                rows = np.flatnonzero(codes >= 0)
                encoded[rows, np.asarray(group.indices)[codes[rows]]] = 1.0
                unseen = sorted(set(labels[codes < 0]))
                if unseen:
                    warnings.warn(
                        f"Column {group.name!r} holds categories unseen when the "
                        f"preprocessor was fitted: {unseen[:10]}; their one-hot "
                        "group is all zeros. Refit with these rows, or pass them "
                        "in categories=, to encode them.",
                        stacklevel=2,
                    )
            else:
                low, width = self._affine(group.name)
                values = self._numeric(frame, group.name)
                encoded[:, group.indices[0]] = (values - low) / width
        return encoded

    def inverse_transform(self, encoded: np.ndarray) -> pd.DataFrame:
        """Decode model-space vectors into records in original units.

        Parameters
        ----------
        encoded : array-like of float, shape (n, d) or (d,)
            Vectors in model space, e.g. a reference found by the solver.

        Returns
        -------
        pandas.DataFrame
            One row per vector, columns in fitted order. Numeric columns are
            float64 (``expm1`` undoes ``log1p``); a categorical takes the
            category of its group's largest dimension, or
            :attr:`unknown_category` when no dimension of the group is positive.
        """
        self._require_fitted()
        try:
            matrix = np.atleast_2d(np.asarray(encoded, dtype=np.float64))
        except (TypeError, ValueError, RuntimeError):
            matrix = None
        if matrix is None or matrix.ndim != 2 or matrix.shape[1] != self.n_features:
            raise InputError(
                "encoded",
                f"a float array of shape (n, {self.n_features})",
                describe(encoded),
                "Pass vectors in the space of transform(); detach torch tensors.",
            )

        return pd.DataFrame(self._decode(matrix), columns=list(self._columns))

    def to_records(self, encoded: np.ndarray) -> list[dict[str, object]]:
        """Like ``inverse_transform``, as one dict per row: fast, no pandas.

        Numbers come back as Python floats, categories as strings.
        """
        columns = self._decode(np.atleast_2d(np.asarray(encoded, dtype=np.float64)))
        names = list(columns)
        rows = zip(*(columns[name].tolist() for name in names), strict=True)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _decode(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        columns: dict[str, np.ndarray] = {}
        for group in self._schema.groups:
            block = matrix[:, list(group.indices)]
            if group.is_categorical:
                names = np.asarray([*group.categories, self.unknown_category])
                choice = np.where(
                    block.max(axis=1) > 0, block.argmax(axis=1), len(group.indices)
                )
                columns[group.name] = names[choice]
            else:
                low, width = self._affine(group.name)
                values = block[:, 0] * width + low
                logged = group.name in self._log_scaled
                values = np.expm1(values) if logged else values
                if self._is_integer(group.name):
                    values = whole_if_near(values)
                columns[group.name] = values
        return columns

    def round_integers(self, encoded: np.ndarray, direction: str) -> np.ndarray:
        """Round integer-valued columns of model-space rows, in original units.

        Parameters
        ----------
        encoded : numpy.ndarray
            Shape ``(n, d)``, model space.
        direction : {"down", "up"}
            Round each integer-valued numeric column down or up.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d)``, float32: a copy whose integer-valued columns
            (counts, flags) hold whole numbers once decoded.
        """
        self._require_fitted()
        rounded = np.array(encoded, dtype=np.float64)
        dims, low, width, logged = self._integer_layout()
        values = rounded[:, dims] * width + low
        values = whole_if_near(np.where(logged, np.expm1(values), values))
        values = np.floor(values) if direction == "down" else np.ceil(values)
        values = np.where(logged, np.log1p(np.maximum(values, 0.0)), values)
        rounded[:, dims] = (values - low) / width
        return rounded.astype(np.float32)

    @property
    def columns(self) -> tuple[str, ...]:
        """The original columns, in order, that ``transform`` reads."""
        self._require_fitted()
        return self._columns

    @property
    def n_features(self) -> int:
        """Number of model dimensions ``d``."""
        return len(self.feature_names)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Name of each model dimension: ``"service=http"``, ``"src_bytes"``."""
        return self.schema.feature_names

    @property
    def schema(self) -> TabularSchema:
        """One :class:`FeatureGroup` per original column, in column order."""
        self._require_fitted()
        return self._schema

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension range of the fitted normal rows in model space.

        Returns
        -------
        (lower, upper) : tuple of numpy.ndarray of float32, shape (d,)
            0 and 1 for one-hot dimensions; 0 and 1 for numeric ones (0 and 0
            for a column constant on the normal rows).
        """
        schema = self.schema
        lower = np.zeros(schema.n_features, dtype=np.float32)
        upper = np.ones(schema.n_features, dtype=np.float32)
        for group in schema.groups:
            if not group.is_categorical:
                position = self._numeric_columns_of(self._columns).index(group.name)
                upper[group.indices] = self._maximum[position] > self._minimum[position]
        return lower, upper

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild this preprocessor, as plain numpy arrays.

        Save with ``np.savez`` and read back with ``np.load(path,
        allow_pickle=False)`` and :meth:`from_state_dict`.
        """
        self._require_fitted()
        values = [c for name in self._categorical for c in self._categories[name]]
        counts = [len(self._categories[name]) for name in self._categorical]
        return {
            "columns": np.asarray(self._columns, dtype=str),
            "categorical": np.asarray(self._categorical, dtype=str),
            "log_scaled": np.asarray(self._log_scaled, dtype=str),
            "category_values": np.asarray(values, dtype=str),
            "category_counts": np.asarray(counts, dtype=np.int64),
            "minimum": self._minimum.astype(np.float64),
            "maximum": self._maximum.astype(np.float64),
            "integer": self._integer.astype(bool),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray]) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`state_dict` output."""
        try:
            missing = [key for key in _STATE_KEYS if key not in state]
            if missing:
                raise ValueError(f"keys {missing} are missing")
            text = {key: [str(v) for v in state[key]] for key in _STATE_KEYS[:4]}
            counts = np.asarray(state["category_counts"], dtype=np.int64)
            extremes = [np.asarray(state[k], dtype=np.float64) for k in _STATE_KEYS[5:]]
            preprocessor = cls(text["categorical"], text["log_scaled"], text["columns"])
            n_numeric = len(preprocessor._numeric_columns_of(text["columns"]))
            cuts = np.cumsum(counts)
            groups = np.split(np.asarray(text["category_values"], dtype=object), cuts)
            if groups.pop().size or not len(groups) == len(text["categorical"]):
                raise ValueError("category counts do not match category values")
            if not extremes[0].shape == extremes[1].shape == (n_numeric,):
                raise ValueError("minimum and maximum do not match the columns")
        except (TypeError, ValueError) as error:
            raise InputError(
                "state",
                f"the arrays {list(_STATE_KEYS)} returned by state_dict()",
                f"a mapping where {error}",
                "Pass state_dict() output or np.load(path, allow_pickle=False).",
            ) from error
        categories = dict(zip(text["categorical"], map(tuple, groups), strict=True))
        preprocessor._set_state(tuple(text["columns"]), categories, *extremes)
        integer = np.asarray(state.get("integer", ()), dtype=bool)
        if integer.shape != (n_numeric,):
            raise InputError(
                "state",
                f"an 'integer' array of {n_numeric} flags, one per numeric column",
                f"an array of shape {integer.shape}",
                "Refit the preprocessor: this state predates whole-number support.",
            )
        preprocessor._integer = integer
        return preprocessor

    def _set_state(
        self,
        columns: tuple[str, ...],
        categories: dict[str, tuple[str, ...]],
        minimum: np.ndarray,
        maximum: np.ndarray,
    ) -> None:
        names: list[str] = []
        groups = []
        for name in columns:
            start = len(names)
            if name in categories:
                names += [f"{name}={category}" for category in categories[name]]
                indices = tuple(range(start, len(names)))
                groups.append(FeatureGroup(name, indices, categories[name]))
            else:
                names.append(name)
                groups.append(FeatureGroup(name, (start,)))
        self._schema = TabularSchema(tuple(names), tuple(groups))
        self._columns, self._categories = columns, categories
        self._minimum, self._maximum = minimum, maximum
        self._integer = np.zeros(len(minimum), dtype=bool)

    def _numeric_columns_of(self, columns: Sequence[str]) -> list[str]:
        return [name for name in columns if name not in self._categorical]

    def _numeric_position(self, name: str) -> int:
        positions = getattr(self, "_positions", None)
        if positions is None or positions[0] is not self._columns:
            numeric = self._numeric_columns_of(self._columns)
            positions = (self._columns, {n: i for i, n in enumerate(numeric)})
            self._positions = positions
        return positions[1][name]

    def _numeric(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        try:
            values = frame[name].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is None or not np.isfinite(values).all():
            raise InputError(
                "frame",
                f"finite numbers in column {name!r}",
                f"values such as {frame[name].head(3).tolist()}",
                "Fill or drop missing values, or list the column as categorical.",
            )
        if name not in self._log_scaled:
            return values
        if (values < 0).any():
            raise InputError(
                "frame",
                f"non-negative values in log-scaled column {name!r}",
                f"minimum {values.min()}",
                "Remove the column from log_scaled or shift it to start at 0.",
            )
        return np.log1p(values)

    def _integer_layout(
        self,
    ) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """Dims, offsets, scales and log flags of the integer-valued columns."""
        key = (
            self._columns,
            self._integer.tobytes(),
            self._minimum.tobytes(),
            self._maximum.tobytes(),
        )
        cached = getattr(self, "_layout_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        groups = [
            group
            for group in self._schema.groups
            if not group.is_categorical and self._is_integer(group.name)
        ]
        affine = np.array([self._affine(group.name) for group in groups]).reshape(-1, 2)
        logged = np.array([group.name in self._log_scaled for group in groups])
        dims = [group.indices[0] for group in groups]
        layout = (dims, affine[:, 0], affine[:, 1], logged)
        self._layout_cache = (key, layout)
        return layout

    def _is_integer(self, name: str) -> bool:
        return bool(self._integer[self._numeric_position(name)])

    def _affine(self, name: str) -> tuple[float, float]:
        position = self._numeric_position(name)
        width = self._maximum[position] - self._minimum[position]
        return self._minimum[position], width if width > 0 else 1.0

    def _require_fitted(self) -> None:
        if self._columns is None:
            raise InputError(
                "preprocessor",
                "a fitted TabularPreprocessor",
                "one that was never fitted",
                "Call fit(frame, normal) first, or build it with from_state_dict().",
            )
