"""The result of one DeepAID search, shared by every data kind."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .params import SearchParams

if TYPE_CHECKING:
    import pandas as pd

#: ``status`` values.
MET = "met"
NOT_MET = "not_met"
NOT_ANOMALOUS = "not_anomalous"


@dataclass(frozen=True)
class Change:
    """One feature (or position, or edge) in which the reference differs.

    Attributes
    ----------
    name : str
        The feature as a person reads it, e.g. ``"service"``.
    anomaly_value, reference_value : object
        The value in original units (a number or a category).
    contribution : float
        How much the reference's score rises if this one change is undone,
        in score units: larger means the feature explains more.
    indices : tuple of int
        The model dimensions of this feature.
    """

    name: str
    anomaly_value: Any
    reference_value: Any
    contribution: float
    indices: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why a detector flagged ``anomaly``: a nearby ``reference`` it calls normal.

    The explanation is the difference ``anomaly - reference``, restricted to
    ``changes``.

    Attributes
    ----------
    kind : str
        The data kind, e.g. ``"tabular"``.
    anomaly, reference : numpy.ndarray
        Shape ``(d,)``, float32, in the model's input space.
    changes : tuple of Change
        Features that differ, largest contribution first; at most ``params.k``.
    anomaly_score, reference_score, threshold : float
        Scores of ``anomaly`` and ``reference`` and the detector's threshold.
    status : str
        ``"met"`` (reference scores at most ``threshold - eps``), ``"not_met"``
        (the constraints left a gap, see ``gap``) or ``"not_anomalous"`` (the
        input does not exceed the threshold; no search was run).
    steps : int
        Gradient steps taken; ``evaluations`` counts every scored candidate.
    seconds : float
        Wall time of the search.
    params : SearchParams
        The constraints and seed used.
    feature_names : tuple of str
        Names of the ``d`` model dimensions.
    anomaly_original, reference_original : dict
        Feature name -> value in original units, for every feature.
    """

    kind: str
    anomaly: np.ndarray
    reference: np.ndarray
    changes: tuple[Change, ...]
    anomaly_score: float
    reference_score: float
    threshold: float
    status: str
    steps: int
    evaluations: int
    seconds: float
    params: SearchParams
    feature_names: tuple[str, ...]
    anomaly_original: dict[str, Any] = field(default_factory=dict)
    reference_original: dict[str, Any] = field(default_factory=dict)

    @property
    def eps(self) -> float:
        """The fidelity margin used, in score units."""
        return self.params.margin(self.threshold)

    @property
    def fidelity_met(self) -> bool:
        """Whether the reference scores at most ``threshold - eps``."""
        return self.status == MET

    @property
    def is_anomalous(self) -> bool:
        return self.status != NOT_ANOMALOUS

    @property
    def gap(self) -> float:
        """How far the reference's score stays above ``threshold - eps`` (>= 0)."""
        return max(0.0, self.reference_score - (self.threshold - self.eps))

    @property
    def difference(self) -> np.ndarray:
        """``anomaly - reference`` in model space, shape ``(d,)``."""
        return self.anomaly - self.reference

    @property
    def changed_features(self) -> tuple[str, ...]:
        return tuple(change.name for change in self.changes)

    def summary(self) -> str:
        """One line on fidelity, in words."""
        scores = (
            f"score {self.anomaly_score:.4g} -> {self.reference_score:.4g}, "
            f"threshold {self.threshold:.4g}"
        )
        if self.status == NOT_ANOMALOUS:
            return (
                f"Not anomalous: score {self.anomaly_score:.4g} does not exceed "
                f"the threshold {self.threshold:.4g}; nothing to explain."
            )
        if self.status == MET:
            return f"Fidelity met with {len(self.changes)} change(s): {scores}."
        return (
            f"Fidelity NOT met with at most {self.params.k} change(s): {scores}; "
            f"the reference stays {self.gap:.4g} above threshold - eps. Raise k, "
            "unlock features or lower the stability weight."
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per change, largest contribution first."""
        return [
            {
                "feature": change.name,
                "anomaly": change.anomaly_value,
                "reference": change.reference_value,
                "contribution": change.contribution,
            }
            for change in self.changes
        ]

    def to_dataframe(self) -> pd.DataFrame:
        """The changes as a table: feature, anomaly, reference, contribution."""
        import pandas as pd

        columns = ["feature", "anomaly", "reference", "contribution"]
        return pd.DataFrame(self.to_records(), columns=columns)

    def to_text(self) -> str:
        """A readable plain-text table of the changes with the fidelity line."""
        rows = [("feature", "anomaly", "reference", "contribution")]
        rows += [
            (
                change.name,
                format_value(change.anomaly_value),
                format_value(change.reference_value),
                f"{change.contribution:+.4g}",
            )
            for change in self.changes
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        lines = [self.summary()]
        if self.changes:
            for position, row in enumerate(rows):
                cells = [row[0].ljust(widths[0])]
                cells += [
                    cell.rjust(width)
                    for cell, width in zip(row[1:], widths[1:], strict=True)
                ]
                lines.append("  ".join(cells))
                if position == 0:
                    lines.append("  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self, summary: bool = True) -> str:
        """The table (and the fidelity line) as HTML; every string is escaped."""
        status_class = "met" if self.fidelity_met else "not-met"
        body = "".join(
            "<tr>"
            f"<td>{html.escape(change.name)}</td>"
            f"<td>{html.escape(format_value(change.anomaly_value))}</td>"
            f"<td>{html.escape(format_value(change.reference_value))}</td>"
            f"<td>{change.contribution:+.4g}</td>"
            "</tr>"
            for change in self.changes
        )
        table = (
            "<table class='deepaid-table'><thead><tr><th>feature</th>"
            "<th>anomaly</th><th>reference</th><th>contribution</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
            if self.changes
            else ""
        )
        line = (
            f"<p class='deepaid-{status_class}'>{html.escape(self.summary())}</p>"
            if summary
            else ""
        )
        return f"<div class='deepaid-explanation'>{line}{table}</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: scores, status, parameters and changes."""
        return {
            "kind": self.kind,
            "status": self.status,
            "fidelity_met": self.fidelity_met,
            "anomaly_score": self.anomaly_score,
            "reference_score": self.reference_score,
            "threshold": self.threshold,
            "eps": self.eps,
            "gap": self.gap,
            "steps": self.steps,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "params": self.params.as_dict(),
            "feature_names": list(self.feature_names),
            "anomaly": self.anomaly.tolist(),
            "reference": self.reference.tolist(),
            "anomaly_original": {
                name: _jsonable(value) for name, value in self.anomaly_original.items()
            },
            "reference_original": {
                name: _jsonable(value)
                for name, value in self.reference_original.items()
            },
            "changes": [
                {**record, "anomaly": _jsonable(record["anomaly"])}
                | {"reference": _jsonable(record["reference"])}
                for record in self.to_records()
            ],
        }


def format_value(value: Any) -> str:
    """A compact display of a number or category."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.4g}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
