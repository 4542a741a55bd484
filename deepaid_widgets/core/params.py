"""The user-facing knobs of a DeepAID search, validated in one place."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any

from .._errors import InputError, describe


@dataclass(frozen=True)
class SearchParams:
    """Constraints and budget of one search for a reference.

    Attributes
    ----------
    k : int
        Conciseness: the reference differs from the anomaly in at most ``k``
        features (one-hot groups count once; positions or edges for other
        kinds). ``K`` in the paper.
    stability_weight : float
        Weight of ``||x* - x°||_2`` in the objective (``λ`` in the paper).
        The fidelity hinge is divided by the threshold, so the same weight
        means the same trade-off for any detector.
    eps : float or None
        Fidelity margin in score units: the reference must score at most
        ``threshold - eps``. ``None`` means 1% of the threshold.
    max_steps : int
        Budget of gradient steps for refining the reference.
    noise : float
        Standard deviation of the random start noise (robustness), in model
        units; 0 gives one deterministic start.
    seed : int
        Seed of the start noise; same inputs and seed give the same result.
    locked : tuple of str
        Features that must keep the anomaly's value.
    """

    k: int = 5
    stability_weight: float = 0.01
    eps: float | None = None
    max_steps: int = 60
    noise: float = 0.0
    seed: int = 0
    locked: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_int("k", self.k, minimum=1, fix="Pass k=1 or more.")
        _check_float(
            "stability_weight", self.stability_weight, "Pass a weight such as 0.01."
        )
        if self.eps is not None:
            _check_float("eps", self.eps, "Pass eps=None for 1% of the threshold.")
        _check_int("max_steps", self.max_steps, minimum=0, fix="Pass e.g. 60.")
        _check_float("noise", self.noise, "Pass noise=0 for no random start.")
        _check_int(
            "seed",
            self.seed,
            minimum=0,
            fix="Pass an integer in [0, 2**32).",
            maximum=2**32 - 1,
        )
        for name in ("k", "max_steps", "seed"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("stability_weight", "noise"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.eps is not None:
            object.__setattr__(self, "eps", float(self.eps))
        if isinstance(self.locked, str) or not all(
            isinstance(name, str) for name in self.locked
        ):
            raise InputError(
                "locked",
                "a sequence of feature names",
                describe(self.locked),
                'Pass e.g. locked=["protocol_type", "service"].',
            )
        object.__setattr__(self, "locked", tuple(self.locked))

    def margin(self, threshold: float) -> float:
        """The fidelity margin ``eps`` in score units."""
        return 0.01 * threshold if self.eps is None else self.eps

    def updated(self, **changes: Any) -> SearchParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "stability_weight": self.stability_weight,
            "eps": self.eps,
            "max_steps": self.max_steps,
            "noise": self.noise,
            "seed": self.seed,
            "locked": list(self.locked),
        }


def _check_int(
    name: str, value: object, *, minimum: int, fix: str, maximum: int | None = None
) -> None:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    expected = f"an integer >= {minimum}"
    if maximum is not None:
        expected = f"an integer in [{minimum}, {maximum}]"
        ok = ok and value <= maximum
    if not ok or value < minimum:
        raise InputError(name, expected, describe(value), fix)


def _check_float(name: str, value: object, fix: str) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise InputError(name, "a finite number >= 0", describe(value), fix)
