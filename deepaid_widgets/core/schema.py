"""What the solver needs to know about the columns of a tabular input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import InputError


@dataclass(frozen=True)
class FeatureGroup:
    """One feature as a person reads it: a numeric column or a one-hot group.

    Conciseness counts groups, not model dimensions: switching ``service``
    from ``http`` to ``private`` is one changed feature even though two
    one-hot dimensions move.

    Attributes
    ----------
    name : str
        The original column name, e.g. ``"service"`` or ``"src_bytes"``.
    indices : tuple of int
        Positions of the group's dimensions in the model's input vector.
    categories : tuple of str, optional
        For a one-hot group, the category of each index, in the same order.
        ``None`` for a numeric feature.
    """

    name: str
    indices: tuple[int, ...]
    categories: tuple[str, ...] | None = None

    @property
    def is_categorical(self) -> bool:
        return self.categories is not None


@dataclass(frozen=True)
class TabularSchema:
    """Names of the model's input dimensions and how they group into features."""

    feature_names: tuple[str, ...]
    groups: tuple[FeatureGroup, ...]

    def __post_init__(self) -> None:
        names = [group.name for group in self.groups]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InputError(
                "feature_names",
                "unique names, one per feature",
                f"repeated names {duplicates[:5]}",
                "Rename the repeated columns.",
            )
        for group in self.groups:
            if group.categories is not None and len(group.categories) != len(
                group.indices
            ):
                raise InputError(
                    "schema",
                    f"one category per index in group {group.name!r}",
                    f"{len(group.categories)} categories for {len(group.indices)} "
                    "indices",
                    "Give the FeatureGroup one category name per dimension.",
                )
        seen = sorted(i for group in self.groups for i in group.indices)
        if seen != list(range(len(self.feature_names))):
            raise InputError(
                "schema",
                f"groups covering each of the {len(self.feature_names)} "
                "dimensions exactly once",
                f"groups covering {seen[:10]}{'...' if len(seen) > 10 else ''}",
                "List every dimension in exactly one FeatureGroup.",
            )

    @property
    def n_features(self) -> int:
        """Number of model dimensions (``d``)."""
        return len(self.feature_names)

    @classmethod
    def plain(cls, feature_names: Sequence[str]) -> TabularSchema:
        """One numeric group per dimension."""
        names = tuple(str(name) for name in feature_names)
        groups = tuple(FeatureGroup(name, (i,)) for i, name in enumerate(names))
        return cls(names, groups)

    def group_index(self, name: str) -> int:
        for position, group in enumerate(self.groups):
            if group.name == name:
                return position
        raise InputError(
            "locked",
            f"names of features in this schema (e.g. {self.groups[0].name!r})",
            repr(name),
            "Use the feature names of the detector's schema "
            "(e.g. [g.name for g in detector.schema.groups]).",
        )

    def group_of_dimension(self) -> np.ndarray:
        """Array of shape ``(d,)`` giving the group position of each dimension."""
        owner = np.empty(self.n_features, dtype=np.int64)
        for position, group in enumerate(self.groups):
            owner[list(group.indices)] = position
        return owner
