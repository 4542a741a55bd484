"""The batched search for a reference: greedy support, gradient refinement.

DeepAID's objective (Han et al., CCS'21, eq. 3-6) for a reference ``x*`` of an
anomaly ``x°`` under a detector with score ``s`` and threshold ``t``:

    minimise  max(0, s(x*) - (t - eps)) / t  +  λ ||x* - x°||_2
    subject to  |{features where x* != x°}| <= K,  x* valid.

Conciseness is enforced exactly, not by a penalty: a greedy stage picks the
support (at most K features) by scoring every single-feature move in one
batched forward pass per stage; projected gradient steps then refine the
numeric values on that support, from one or several (noisy) starts at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ._scorer import ScoreFunction

logger = logging.getLogger(__name__)

Cancelled = Callable[[], bool]
#: ``rounder(rows, "down" | "up")``: model-space rows ``(n, d)`` with each
#: integer-valued feature rounded that way in original units.
Rounder = Callable[[np.ndarray, str], np.ndarray]


class SearchCancelled(Exception):
    """A newer request superseded this search."""


@dataclass(frozen=True)
class Moves:
    """Every single-feature move the greedy stage may score, as tensors.

    A move sets some dimensions of the current point to new values: row ``r``
    writes ``values[r]`` into the dimensions where ``masks[r]`` is 1, and
    belongs to feature group ``groups[r]``. The ``numeric_dims`` also get
    moves towards the detector's reconstruction, made afresh at each stage.
    """

    masks: torch.Tensor  # (m, d) 0/1
    values: torch.Tensor  # (m, d), zero outside the mask
    groups: torch.Tensor  # (m,) int64
    numeric_dims: torch.Tensor  # (n,) int64 dims that may take dynamic values
    numeric_groups: torch.Tensor  # (n,) int64 group of each numeric dim

    def restricted(self, locked: set[int]) -> Moves:
        """The moves that leave every group in ``locked`` untouched."""
        if not locked:
            return self
        banned = torch.tensor(sorted(locked), dtype=torch.int64)
        keep = ~torch.isin(self.groups, banned)
        keep_numeric = ~torch.isin(self.numeric_groups, banned)
        return Moves(
            self.masks[keep],
            self.values[keep],
            self.groups[keep],
            self.numeric_dims[keep_numeric],
            self.numeric_groups[keep_numeric],
        )


class Search:
    """One search; holds the tensors shared by its stages."""

    def __init__(
        self,
        score: ScoreFunction,
        anomaly: torch.Tensor,
        threshold: float,
        eps: float,
        stability_weight: float,
        lower: torch.Tensor,
        upper: torch.Tensor,
        group_of_dim: torch.Tensor,
        numeric_mask: torch.Tensor,
        cancelled: Cancelled | None = None,
        rounder: Rounder | None = None,
    ) -> None:
        self.score = score
        self.anomaly = anomaly
        self.threshold = threshold
        self.target = threshold - eps
        self.stability_weight = stability_weight
        self.lower = lower
        self.upper = upper
        self.group_of_dim = group_of_dim
        self.numeric_mask = numeric_mask
        self.cancelled = cancelled or (lambda: False)
        self.rounder = rounder
        self.evaluations = 0
        self.steps = 0

    def check(self) -> None:
        if self.cancelled():
            raise SearchCancelled

    def objective(self, points: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        hinge = torch.clamp(scores - self.target, min=0) / self.threshold
        distance = torch.linalg.vector_norm(points - self.anomaly, dim=-1)
        return hinge + self.stability_weight * distance

    def evaluate(self, points: torch.Tensor) -> torch.Tensor:
        self.check()
        self.evaluations += points.shape[0]
        with torch.no_grad():
            return self.score(points)

    def changed_groups(self, point: torch.Tensor) -> torch.Tensor:
        moved = (point - self.anomaly).abs() > 1e-7
        return torch.unique(self.group_of_dim[moved])

    def greedy(self, moves: Moves, k: int) -> torch.Tensor:
        """Best point reachable by at most ``k`` feature moves, one per stage."""
        current = self.anomaly.clone()
        current_value = self.objective(current, self.evaluate(current[None]))[0]
        for _ in range(k + 3):
            support = self.changed_groups(current)
            rows, groups = self._candidates(current, moves)
            if len(support) >= k:
                keep = torch.isin(groups, support)
                rows, groups = rows[keep], groups[keep]
            if rows.shape[0] == 0:
                break
            values = self.objective(rows, self.evaluate(rows))
            best = int(torch.argmin(values))
            if values[best] >= current_value - 1e-9:
                break
            current, current_value = rows[best], values[best]
            logger.debug("greedy: group %d, objective %.5g", groups[best], values[best])
        return current

    def _candidates(
        self, current: torch.Tensor, moves: Moves
    ) -> tuple[torch.Tensor, torch.Tensor]:
        static = current * (1 - moves.masks) + moves.values
        groups = moves.groups

        # The detector's own reconstruction points at what "normal" looks like
        # near the current point; moving part-way towards it is a strong move.
        dims, owners = moves.numeric_dims, moves.numeric_groups
        if dims.numel() == 0:
            return static, groups
        with torch.no_grad():
            target = self._reconstruction(current)
        rows = []
        for fraction in (0.5, 1.0):
            value = current[dims] + fraction * (target[dims] - current[dims])
            value = torch.clamp(value, self.lower[dims], self.upper[dims])
            row = current.repeat(dims.numel(), 1)
            row[torch.arange(dims.numel()), dims] = value
            rows.append(row)
        dynamic, owners = torch.cat(rows), torch.cat([owners, owners])
        if self.rounder is not None:
            dynamic = torch.cat(
                [self.rounded(dynamic, "down"), self.rounded(dynamic, "up")]
            )
            owners = torch.cat([owners, owners])
        return torch.cat([static, dynamic]), torch.cat([groups, owners])

    def rounded(self, rows: torch.Tensor, direction: str) -> torch.Tensor:
        """``rows`` with integer-valued features rounded (see ``Rounder``)."""
        if self.rounder is None:
            return rows
        result = self.rounder(rows.detach().numpy(), direction)
        return torch.from_numpy(result).to(rows.dtype)

    def _reconstruction(self, point: torch.Tensor) -> torch.Tensor:
        reconstruct = getattr(self.score, "reconstruct", None)
        if reconstruct is None:
            return point
        return reconstruct(point[None])[0]

    def pull_back(self, point: torch.Tensor, n: int = 24) -> torch.Tensor:
        """Best point on the segment from the anomaly to ``point``, one pass.

        Stability: the greedy stage lands on coarse candidate values; most of
        the way back towards the anomaly often still meets the target.
        """
        fractions = torch.linspace(1.0 / n, 1.0, n, dtype=point.dtype)[:, None]
        # Only numeric features slide; a category is switched or it is not.
        sliding = self.numeric_mask & ((point - self.anomaly).abs() > 1e-7)
        rows = self.anomaly + fractions * (point - self.anomaly)
        rows = torch.clamp(rows, self.lower, self.upper)
        rows = torch.where(sliding, rows, point)
        keys = self._key(rows, self.evaluate(rows))
        return rows[int(torch.argmin(keys))]

    def refine(
        self,
        start: torch.Tensor,
        max_steps: int,
        noise: float,
        seed: int,
        n_starts: int = 4,
        learning_rate: float = 0.02,
        patience: int = 6,
    ) -> torch.Tensor:
        """Projected Adam on the numeric dims already changed in ``start``.

        Runs ``n_starts`` starts at once when ``noise > 0`` (the first without
        noise), stops early after ``patience`` steps without a better point,
        and returns the best point seen, preferring points that meet the
        fidelity target.
        """
        free = ((start - self.anomaly).abs() > 1e-7) & self.numeric_mask
        if max_steps == 0 or not free.any():
            return start
        starts = start.repeat(n_starts if noise > 0 else 1, 1)
        if noise > 0:
            generator = torch.Generator().manual_seed(seed)
            jitter = torch.randn(starts.shape, generator=generator, dtype=start.dtype)
            starts[1:] += noise * jitter[1:] * free
            starts = torch.clamp(starts, self.lower, self.upper)

        best, best_key = start, self._key(start[None], self.evaluate(start[None]))[0]
        variable = starts[:, free].clone()
        low, high = self.lower[free], self.upper[free]
        first, second = torch.zeros_like(variable), torch.zeros_like(variable)
        stale = 0
        for step in range(1, max_steps + 1):
            self.check()
            variable.requires_grad_(True)
            points = starts.clone()
            points[:, free] = variable
            scores = self.score(points)
            values = self.objective(points, scores)
            (gradient,) = torch.autograd.grad(values.sum(), variable)
            self.evaluations += points.shape[0]
            self.steps += 1

            with torch.no_grad():
                keys = self._key(points, scores)
                improved = int(torch.argmin(keys))
                if keys[improved] < best_key - 1e-6 * abs(float(best_key)):
                    best, best_key, stale = points[improved].clone(), keys[improved], 0
                else:
                    stale += 1
                    if stale >= patience:
                        break
                # Adam, by hand: the optimiser object costs more than the model.
                first.mul_(0.9).add_(gradient, alpha=0.1)
                second.mul_(0.999).addcmul_(gradient, gradient, value=0.001)
                scale = learning_rate * (1 - 0.999**step) ** 0.5 / (1 - 0.9**step)
                variable = variable.detach() - scale * first / (second.sqrt() + 1e-8)
                variable = torch.clamp(variable, low, high)
        return best

    def snap(self, point: torch.Tensor, most: int = 8) -> torch.Tensor:
        """Whole numbers for integer-valued features (counts, flags): validity.

        Every changed feature that the rounder does not leave alone is rounded
        down or up; the best of the combinations (at most ``2**most``) is
        scored in one pass. Bounds win over whole numbers where they clash.
        """
        if self.rounder is None:
            return point
        changed = (point - self.anomaly).abs() > 1e-7
        down = self.rounded(point[None], "down")[0]
        up = self.rounded(point[None], "up")[0]
        point = torch.where(changed, down, point)
        open_dims = torch.nonzero(changed & ((up - down).abs() > 1e-9)).flatten()
        if open_dims.numel() == 0:
            clamped = torch.clamp(point, self.lower, self.upper)
            return torch.where(changed, clamped, point)
        choose = open_dims[:most]
        combos = torch.cartesian_prod(*[torch.tensor([False, True])] * choose.numel())
        combos = combos.reshape(-1, choose.numel())
        candidates = point.repeat(combos.shape[0], 1)
        candidates[:, choose] = torch.where(combos, up[choose], down[choose])
        candidates = torch.where(
            changed, torch.clamp(candidates, self.lower, self.upper), candidates
        )
        keys = self._key(candidates, self.evaluate(candidates))
        return candidates[int(torch.argmin(keys))]

    def meets_target(self, point: torch.Tensor) -> bool:
        """Whether ``point`` scores at most ``threshold - eps``."""
        return bool(self.evaluate(point[None])[0] <= self.target)

    def _key(self, points: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Order of preference: meets the target first, then lower objective."""
        values = self.objective(points, scores)
        return values + (scores > self.target).to(values.dtype) * 1e3

    def prune(self, point: torch.Tensor, groups: list[torch.Tensor]) -> torch.Tensor:
        """Undo changes that the reference does not need to meet the target."""
        while True:
            changed = self.changed_groups(point).tolist()
            if len(changed) <= 1:
                return point
            rows = point.repeat(len(changed), 1)
            for row, group in zip(rows, changed, strict=True):
                dims = groups[group]
                row[dims] = self.anomaly[dims]
            scores = self.evaluate(rows)
            fine = scores <= self.target
            if not fine.any():
                return point
            keys = self._key(rows, scores)
            point = rows[int(torch.argmin(keys))]
