"""Tabular data: a detector scoring feature vectors (an autoencoder's RMSE)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._errors import InputError, ModelError
from ._scorer import ReconstructionScore, checked_score
from ._search import Cancelled, Moves, Rounder, Search, SearchCancelled
from .explanation import MET, NOT_ANOMALOUS, NOT_MET, Change, Explanation
from .params import SearchParams
from .schema import TabularSchema

#: Maps model-space rows ``(n, d)`` to one dict per row: feature -> value in
#: original units.
Display = Callable[[np.ndarray], list[dict[str, Any]]]


class TabularDomain:
    """Where a reference may go: everything about a problem but the record.

    Built once per detector (bounds, candidate moves, one-hot groups) and
    shared by the problems of every record it explains.

    Parameters
    ----------
    schema : TabularSchema
        Names and one-hot groups of the ``d`` dimensions.
    lower, upper : numpy.ndarray
        Shape ``(d,)``: the validity bounds of a changed feature.
    quantiles : numpy.ndarray, optional
        Shape ``(q, d)``: quantiles of normal rows, tried as candidate values.
    display : callable, optional
        Converts model-space rows to original units for display.
    rounder : callable, optional
        ``rounder(rows, "down" | "up")`` rounds integer-valued features in
        original units; references then hold whole counts (validity).
    """

    def __init__(
        self,
        schema: TabularSchema,
        lower: np.ndarray,
        upper: np.ndarray,
        quantiles: np.ndarray | None = None,
        display: Display | None = None,
        rounder: Rounder | None = None,
    ) -> None:
        self.schema = schema
        self.lower = torch.as_tensor(lower, dtype=torch.float32)
        self.upper = torch.as_tensor(upper, dtype=torch.float32)
        self.display = display or schema_display(schema)
        self.rounder = rounder
        self.group_dims = [torch.tensor(g.indices) for g in schema.groups]
        self.group_of_dim = torch.as_tensor(schema.group_of_dimension())
        self.numeric = torch.zeros(schema.n_features, dtype=torch.bool)
        for group in schema.groups:
            if not group.is_categorical:
                self.numeric[list(group.indices)] = True
        moves = _moves(schema, self.lower, self.upper, quantiles)
        if rounder is not None:
            moves = _whole_moves(moves, self.numeric, rounder)
        self.moves = _distinct(moves)


class TabularProblem:
    """One anomaly, its detector and its domain, ready to be solved many times.

    Built once per record (the model is copied and checked before); ``solve``
    runs a search for given ``SearchParams`` and returns an ``Explanation``.
    Thread-safe for one solve at a time.

    Parameters
    ----------
    score : ReconstructionScore
        Batched score of a private frozen copy of the detector.
    anomaly : numpy.ndarray
        Shape ``(d,)``, the record ``x°`` in model space.
    threshold : float
        Scores above it are anomalous.
    domain : TabularDomain
        Schema, bounds and candidate moves.
    default_params : SearchParams, optional
        What ``solve()`` uses when given no parameters.
    """

    kind = "tabular"

    def __init__(
        self,
        score: ReconstructionScore,
        anomaly: np.ndarray,
        threshold: float,
        domain: TabularDomain,
        default_params: SearchParams | None = None,
    ) -> None:
        self.score = score
        self.anomaly = torch.as_tensor(anomaly, dtype=torch.float32)
        self.threshold = threshold
        self.domain = domain
        self.schema = domain.schema
        self.default_params = default_params or SearchParams()
        self.anomaly_score = checked_score(score, self.anomaly[None])
        self.anomaly_display = domain.display(self.anomaly.numpy()[None])[0]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.schema.feature_names

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(group.name for group in self.schema.groups)

    def solve(
        self, params: SearchParams | None = None, cancelled: Cancelled | None = None
    ) -> Explanation:
        """Search a reference under ``params``; see ``Search`` for the method.

        Raises ``SearchCancelled`` when ``cancelled()`` turns true meanwhile.
        """
        params = params or self.default_params
        started = time.perf_counter()
        locked = {self.schema.group_index(name) for name in params.locked}
        eps = params.margin(self.threshold)
        if eps >= self.threshold:
            raise InputError(
                "eps",
                f"a margin below the threshold ({self.threshold:.4g})",
                f"{eps:.4g}",
                "A reference must score at most threshold - eps >= 0; use a "
                "smaller eps, e.g. 1% of the threshold (eps=None).",
            )
        if self.anomaly_score <= self.threshold:
            return self._package(
                self.anomaly,
                self.anomaly_score,
                NOT_ANOMALOUS,
                params,
                started,
                steps=0,
                evaluations=1,
            )

        domain = self.domain
        search = Search(
            self.score,
            self.anomaly,
            self.threshold,
            eps,
            params.stability_weight,
            domain.lower,
            domain.upper,
            domain.group_of_dim,
            domain.numeric,
            cancelled,
            domain.rounder,
        )
        try:
            point = self._search(search, params, locked)
        except SearchCancelled:
            raise
        except Exception as error:
            raise ModelError(
                f"The model failed while scoring candidate batches of shape (n, "
                f"{self.schema.n_features}): {type(error).__name__}: {error}. "
                "It must accept any batch size n."
            ) from error
        score = float(search.evaluate(point[None])[0])
        status = MET if score <= self.threshold - eps else NOT_MET
        return self._package(
            point,
            score,
            status,
            params,
            started,
            search.steps,
            search.evaluations,
            search,
        )

    def _search(
        self, search: Search, params: SearchParams, locked: set[int]
    ) -> torch.Tensor:
        greedy = search.greedy(self.domain.moves.restricted(locked), params.k)
        point = search.pull_back(greedy)
        point = search.refine(point, params.max_steps, params.noise, params.seed)
        point = search.snap(point)
        # Rounding counts can cost fidelity; the greedy point is whole already.
        if search.meets_target(greedy) and not search.meets_target(point):
            point = greedy
        return search.prune(point, self.domain.group_dims)

    def _package(
        self,
        reference: torch.Tensor,
        reference_score: float,
        status: str,
        params: SearchParams,
        started: float,
        steps: int,
        evaluations: int,
        search: Search | None = None,
    ) -> Explanation:
        changes: tuple[Change, ...] = ()
        reference_display = self.anomaly_display
        if search is not None:
            reference_display = self.domain.display(reference.numpy()[None])[0]
            changes = self._changes(
                search, reference, reference_score, reference_display
            )
        return Explanation(
            kind=self.kind,
            anomaly=self.anomaly.numpy().copy(),
            reference=reference.detach().numpy().copy(),
            changes=changes,
            anomaly_score=self.anomaly_score,
            reference_score=reference_score,
            threshold=self.threshold,
            status=status,
            steps=steps,
            evaluations=evaluations,
            seconds=time.perf_counter() - started,
            params=params,
            feature_names=self.schema.feature_names,
            anomaly_original=dict(self.anomaly_display),
            reference_original=dict(reference_display),
        )

    def _changes(
        self,
        search: Search,
        reference: torch.Tensor,
        reference_score: float,
        reference_display: dict[str, Any],
    ) -> tuple[Change, ...]:
        groups = search.changed_groups(reference).tolist()
        if not groups:
            return ()
        # Contribution: how much the score rises when one change is undone.
        undone = reference.repeat(len(groups), 1)
        dims = self.domain.group_dims
        for row, group in zip(undone, groups, strict=True):
            row[dims[group]] = self.anomaly[dims[group]]
        rises = (search.evaluate(undone) - reference_score).tolist()
        changes = [
            Change(
                name=(name := self.schema.groups[group].name),
                anomaly_value=self.anomaly_display[name],
                reference_value=reference_display[name],
                contribution=rise,
                indices=self.schema.groups[group].indices,
            )
            for group, rise in zip(groups, rises, strict=True)
        ]
        return tuple(sorted(changes, key=lambda change: -change.contribution))


def _moves(
    schema: TabularSchema,
    lower: torch.Tensor,
    upper: torch.Tensor,
    quantiles: np.ndarray | None,
) -> Moves:
    """Every candidate single-feature move, built once per problem."""
    d = schema.n_features
    masks, values, owners, numeric_dims, numeric_owners = [], [], [], [], []
    for position, group in enumerate(schema.groups):
        dims = list(group.indices)
        if group.is_categorical:
            # Only categories the bounds allow (seen in normal data) are tried.
            for dim in (dim for dim in dims if upper[dim] >= 1 >= lower[dim]):
                mask, value = torch.zeros(d), torch.zeros(d)
                mask[dims], value[dim] = 1.0, 1.0
                masks.append(mask), values.append(value), owners.append(position)
            continue
        dim = dims[0]
        numeric_dims.append(dim), numeric_owners.append(position)
        for candidate in _candidate_values(dim, lower, upper, quantiles):
            mask, value = torch.zeros(d), torch.zeros(d)
            mask[dim], value[dim] = 1.0, candidate
            masks.append(mask), values.append(value), owners.append(position)
    return Moves(
        masks=torch.stack(masks) if masks else torch.zeros(0, d),
        values=torch.stack(values) if values else torch.zeros(0, d),
        groups=torch.tensor(owners, dtype=torch.int64),
        numeric_dims=torch.tensor(numeric_dims, dtype=torch.int64),
        numeric_groups=torch.tensor(numeric_owners, dtype=torch.int64),
    )


def _distinct(moves: Moves) -> Moves:
    """The moves without repeats (rounding and tied quantiles make many)."""
    if moves.masks.shape[0] == 0:
        return moves
    keys = torch.cat([moves.groups[:, None].to(moves.values.dtype), moves.values], 1)
    _, inverse = torch.unique(keys, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(inverse), dtype=torch.int64)
    first = first.scatter_reduce(0, inverse, torch.arange(len(inverse)), "amin")
    keep = torch.sort(first).values
    return Moves(
        moves.masks[keep],
        moves.values[keep],
        moves.groups[keep],
        moves.numeric_dims,
        moves.numeric_groups,
    )


def _whole_moves(moves: Moves, numeric: torch.Tensor, rounder: Rounder) -> Moves:
    """Numeric moves rounded down and up, so that counts stay whole numbers."""
    is_numeric = (moves.masks.bool() & numeric).any(dim=1)
    masks, values = moves.masks[is_numeric], moves.values[is_numeric]
    rounded = [
        torch.from_numpy(rounder(values.numpy(), direction)) * masks
        for direction in ("down", "up")
    ]
    return Moves(
        masks=torch.cat([moves.masks[~is_numeric], masks, masks]),
        values=torch.cat([moves.values[~is_numeric], *rounded]),
        groups=torch.cat([moves.groups[~is_numeric], *[moves.groups[is_numeric]] * 2]),
        numeric_dims=moves.numeric_dims,
        numeric_groups=moves.numeric_groups,
    )


def _candidate_values(
    dim: int, lower: torch.Tensor, upper: torch.Tensor, quantiles: np.ndarray | None
) -> list[float]:
    low, high = float(lower[dim]), float(upper[dim])
    if quantiles is not None:
        values = np.clip(quantiles[:, dim], low, high)
    elif np.isfinite(low) and np.isfinite(high):
        values = np.linspace(low, high, 9)
    else:
        return []
    return sorted({float(v) for v in values})


def schema_display(schema: TabularSchema) -> Display:
    """Display straight from model space: numbers, and the argmax category."""

    def display(rows: np.ndarray) -> list[dict[str, Any]]:
        records = []
        for row in rows:
            record: dict[str, Any] = {}
            for group in schema.groups:
                values = row[list(group.indices)]
                if group.categories is None:
                    record[group.name] = float(values[0])
                elif values.max() <= 0:
                    record[group.name] = "<none>"
                else:
                    record[group.name] = group.categories[int(values.argmax())]
            records.append(record)
        return records

    return display
