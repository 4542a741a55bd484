"""The tabular view: anomaly vs reference bars for the changed features."""

from __future__ import annotations

from typing import Any

import bqplot
import ipywidgets as widgets
import numpy as np

from ..core.explanation import Explanation, format_value

ANOMALY_COLOUR = "#d62728"
REFERENCE_COLOUR = "#1f77b4"


class TabularView:
    """A bqplot bar chart and the tabular-only controls (locked features).

    Bar heights are the model-space values (for the bundled preprocessing,
    0..1 spans the normal range) so that features of different units share an
    axis; the labels above the bars give the values in original units.
    """

    kind = "tabular"

    def __init__(self, problem: Any) -> None:
        self.problem = problem
        self.names = bqplot.OrdinalScale()
        self.values = bqplot.LinearScale()
        scales = {"x": self.names, "y": self.values}
        self.bars = bqplot.Bars(
            x=[],
            y=np.zeros((2, 0)),
            scales=scales,
            type="grouped",
            orientation="horizontal",
            padding=0.25,
            colors=[ANOMALY_COLOUR, REFERENCE_COLOUR],
            labels=["anomaly", "reference"],
        )
        # One label mark per series, nudged onto its bar of the pair.
        self.texts = [
            bqplot.Label(
                x=[],
                y=[],
                text=[],
                scales={"x": self.values, "y": self.names},
                colors=[colour],
                default_size=12,
                align="start",
                x_offset=4,
                y_offset=offset,
            )
            for colour, offset in ((ANOMALY_COLOUR, -4), (REFERENCE_COLOUR, 12))
        ]
        self.figure = bqplot.Figure(
            marks=[self.bars, *self.texts],
            axes=[
                bqplot.Axis(scale=self.names, side="left"),
                bqplot.Axis(
                    scale=self.values,
                    label="value in model space (scaled)",
                    tick_format=".1f",
                ),
            ],
            title="Anomaly vs reference",
            fig_margin={"top": 40, "bottom": 50, "left": 200, "right": 30},
            layout=widgets.Layout(
                width="100%", min_width="480px", height=_height_for(1)
            ),
        )
        legend = widgets.HTML(
            f"<span style='color:{ANOMALY_COLOUR}'>&#9632; anomaly</span> "
            f"<span style='color:{REFERENCE_COLOUR}'>&#9632; reference</span> "
            "<span style='color:#555'>(labels: original units; largest "
            "contribution on top)</span>"
        )
        self.widget = widgets.VBox(
            [legend, self.figure], layout=widgets.Layout(width="100%")
        )
        self.locked = widgets.SelectMultiple(
            options=list(problem.group_names),
            value=(),
            rows=6,
            description="locked",
            layout=widgets.Layout(width="auto"),
        )

    def controls(self) -> dict[str, widgets.Widget]:
        """Extra controls, keyed by the ``SearchParams`` field they set."""
        return {"locked": self.locked}

    def set_params(self, params: Any) -> None:
        self.locked.value = tuple(params.locked)

    def update(self, explanation: Explanation) -> None:
        """Show ``explanation``: one batched update per mark.

        The feature scale first widens to old and new names, then the marks
        move, then it narrows: a mark never holds a name its scale lacks.
        """
        changes = explanation.changes
        names = [change.name for change in changes]
        anomaly = [_height(explanation.anomaly, c.indices) for c in changes]
        reference = [_height(explanation.reference, c.indices) for c in changes]
        heights = anomaly + reference
        self.figure.layout.display = None if changes else "none"
        old = [name for name in self.names.domain or [] if name not in names]
        with self.figure.hold_sync():
            self.names.domain = old + names[::-1]
            self.values.min = min([0.0, *heights])
            # Headroom on the right for the value labels.
            self.values.max = max([1.0, *heights]) * 1.3
            self.figure.title = _title(explanation)
            self.figure.layout.height = _height_for(len(names))
            margin = dict(self.figure.fig_margin)
            margin["left"] = _left_margin(names)
            self.figure.fig_margin = margin
        with self.bars.hold_sync():
            self.bars.x = names
            self.bars.y = np.array([anomaly, reference], dtype=float).reshape(2, -1)
        series = (
            (anomaly, [format_value(c.anomaly_value) for c in changes]),
            (reference, [format_value(c.reference_value) for c in changes]),
        )
        for mark, (values, texts) in zip(self.texts, series, strict=True):
            with mark.hold_sync():
                # A label starts right of its bar's end, or of 0 for a
                # negative bar, so that it never sits on the bar.
                mark.x = [max(value, 0.0) for value in values]
                mark.y, mark.text = names, texts
        # A vertical ordinal axis draws its domain bottom-up: reversed, the
        # largest contribution is on top.
        self.names.domain = names[::-1]


def _left_margin(names: list[str]) -> int:
    """Room for the longest feature name at about 7 pixels a character."""
    return int(min(360, max(120, 20 + 7 * max(map(len, names), default=0))))


def _height_for(n_bars: int) -> str:
    """Figure height giving each feature a 48-pixel band."""
    return f"{110 + 48 * max(n_bars, 2)}px"


def _height(vector: np.ndarray, dims: tuple[int, ...]) -> float:
    """A numeric feature's value; for a one-hot group, 1 (a category is set)."""
    if len(dims) > 1:
        return float(vector[list(dims)].max())
    return float(vector[dims[0]])


def _title(explanation: Explanation) -> str:
    if not explanation.is_anomalous:
        return "Not anomalous: nothing to explain"
    if not explanation.changes:
        return "No change found"
    return f"Anomaly vs reference ({len(explanation.changes)} changed)"
