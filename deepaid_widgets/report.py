"""A standalone HTML report of explanations that reads offline.

The file holds no script and references nothing outside itself: styles are
inline, the charts are inline SVG, fonts are the reader's own. Its
Content-Security-Policy forbids scripts and remote loads as a second guard.
Every string that comes from data goes through ``html.escape``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ._errors import InputError, describe
from .core.explanation import MET, NOT_ANOMALOUS, Explanation, format_value

ANOMALY_COLOUR = "#d62728"
REFERENCE_COLOUR = "#1f77b4"

_STATUS_WORDS = {MET: "met", "not_met": "not met", NOT_ANOMALOUS: "not anomalous"}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
  max-width: 980px; margin: 24px auto; padding: 0 16px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em;
  border-top: 1px solid #ccc; padding-top: 1em; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { padding: 2px 12px 2px 0; text-align: left;
  font-variant-numeric: tabular-nums; }
table.changes td, table.changes th { border-bottom: 1px solid #ddd;
  padding: 3px 12px; text-align: right; }
table.changes td:first-child, table.changes th:first-child { text-align: left; }
.fidelity td { white-space: nowrap; }
.fidelity td:nth-child(even) { padding-right: 28px; font-weight: 600; }
.met { color: #2e7d32; } .not_met { color: #c62828; } .not_anomalous { color: #616161; }
svg { max-width: 100%; height: auto; display: block; margin: 8px 0; }
svg text { font-family: inherit; font-size: 12px; fill: #222; }
.note { color: #555; }
"""

# Chart geometry in SVG pixels; the name column grows with the longest name.
_BAR, _PAIR_GAP, _BAND = 13, 2, 40
_TOP, _BOTTOM, _VALUE_COLUMN, _PLOT = 30, 44, 130, 440
_CHAR = 7.0
_LONGEST_NAME, _LONGEST_VALUE = 32, 17


def write_report(
    explanations: Sequence[Explanation],
    path: str | Path,
    *,
    title: str,
    context: Mapping[str, str] | None = None,
    labels: Sequence[str] | None = None,
) -> Path:
    """Write the explanations to one self-contained HTML file.

    Parameters
    ----------
    explanations : sequence of Explanation
        One section each: heading, fidelity numbers, an inline SVG chart of
        anomaly vs reference per changed feature, and the changes table.
    path : str or Path
        Where to write; missing parent folders are created.
    title : str
        The page title and top heading.
    context : mapping of str to str, optional
        Items shown in the summary at the top, e.g. the detector's ROC AUC.
    labels : sequence of str, optional
        A heading per explanation, e.g. ``"neptune, record 17"``.

    Returns
    -------
    Path
        The absolute path of the written file.
    """
    explanations = list(explanations)
    for position, explanation in enumerate(explanations):
        if not isinstance(explanation, Explanation):
            raise InputError(
                f"explanations[{position}]",
                "an Explanation as returned by interpret()",
                describe(explanation),
                "Pass the results of interpret(), one per record.",
            )
    if labels is None:
        labels = [f"Record {n}" for n in range(1, len(explanations) + 1)]
    elif isinstance(labels, str) or len(labels) != len(explanations):
        raise InputError(
            "labels",
            f"a sequence of {len(explanations)} strings, one per explanation",
            describe(labels),
            "Pass one label per explanation, or leave labels out.",
        )

    sections = [
        _section(explanation, str(label))
        for explanation, label in zip(explanations, labels, strict=True)
    ]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_text(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_text(title)}</h1>{_summary(explanations, context or {})}"
        f"{''.join(sections)}</body></html>\n"
    )

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target.resolve()


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _summary(explanations: list[Explanation], context: Mapping[str, str]) -> str:
    anomalous = [e for e in explanations if e.is_anomalous]
    met = sum(e.fidelity_met for e in anomalous)
    items = [(str(key), str(value)) for key, value in context.items()]
    items.append(("records explained", str(len(explanations))))
    if anomalous:
        changes = np.mean([len(e.changes) for e in anomalous])
        items.append(
            ("fidelity met", f"{met} of {len(anomalous)} ({met / len(anomalous):.0%})")
        )
        items.append(("mean changed features", f"{changes:.2f}"))
    rows = "".join(
        f"<tr><th>{_text(key)}</th><td>{_text(value)}</td></tr>" for key, value in items
    )
    return f"<table class='summary'>{rows}</table>"


def _section(explanation: Explanation, label: str) -> str:
    status = _text(explanation.status)
    numbers = [
        ("anomaly score", f"{explanation.anomaly_score:.4g}"),
        ("reference score", f"{explanation.reference_score:.4g}"),
        ("threshold", f"{explanation.threshold:.4g}"),
        ("threshold − eps", f"{explanation.threshold - explanation.eps:.4g}"),
        ("fidelity", _STATUS_WORDS.get(explanation.status, explanation.status)),
        ("gap", f"{explanation.gap:.4g}"),
        ("K (at most)", str(explanation.params.k)),
        ("changes", str(len(explanation.changes))),
        ("steps", str(explanation.steps)),
        ("ms", f"{explanation.seconds * 1000:.1f}"),
    ]
    cells = [
        f"<td>{_text(name)}</td><td class='{status if name == 'fidelity' else ''}'>"
        f"{_text(value)}</td>"
        for name, value in numbers
    ]
    rows = "".join(f"<tr>{''.join(cells[i : i + 5])}</tr>" for i in (0, 5))
    if explanation.changes:
        body = _chart(explanation, label) + _changes_table(explanation)
    else:
        body = "<p class='note'>No feature changed: nothing to chart.</p>"
    return (
        f"<section><h2>{_text(label)}</h2>"
        f"<p class='{status}'>{_text(explanation.summary())}</p>"
        f"<table class='fidelity'>{rows}</table>{body}</section>"
    )


def _changes_table(explanation: Explanation) -> str:
    rows = "".join(
        f"<tr><td>{_text(change.name)}</td>"
        f"<td>{_text(format_value(change.anomaly_value))}</td>"
        f"<td>{_text(format_value(change.reference_value))}</td>"
        f"<td>{change.contribution:+.4g}</td></tr>"
        for change in explanation.changes
    )
    return (
        "<table class='changes'><thead><tr><th>feature</th><th>anomaly</th>"
        "<th>reference</th><th>contribution</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _chart(explanation: Explanation, label: str) -> str:
    """Grouped horizontal bars, one pair per changed feature, largest first.

    Bar lengths are model-space values (0..1 spans the normal training range
    for the bundled preprocessing; a one-hot group shows 1, a category set),
    as in ``views.tabular.TabularView``; the labels give original units.
    """
    changes = sorted(explanation.changes, key=lambda c: -c.contribution)
    pairs = [
        (
            _height(explanation.anomaly, c.indices),
            _height(explanation.reference, c.indices),
        )
        for c in changes
    ]
    values = [v for pair in pairs for v in pair]
    low, high = min(0.0, *values), max(1.0, *values)
    names = [_shorten(c.name, _LONGEST_NAME) for c in changes]
    left = 12 + _CHAR * max(len(name) for name in names)
    width = left + _PLOT + _VALUE_COLUMN
    height = _TOP + _BAND * len(changes) + _BOTTOM

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * _PLOT

    parts = [_legend(left)]
    for tick in np.linspace(low, high, 5):
        parts.append(
            f"<line x1='{x(tick):.1f}' x2='{x(tick):.1f}' y1='{_TOP - 4}' "
            f"y2='{height - _BOTTOM}' stroke='#ddd'/><text x='{x(tick):.1f}' "
            f"y='{height - _BOTTOM + 16}' text-anchor='middle'>{tick:.2g}</text>"
        )
    for row, (change, name, pair) in enumerate(zip(changes, names, pairs, strict=True)):
        top = _TOP + _BAND * row + (_BAND - 2 * _BAR - _PAIR_GAP) / 2
        parts.append(
            f"<text x='{left - 8:.1f}' y='{top + _BAR + 5:.1f}' text-anchor='end'>"
            f"<title>{_text(change.name)}</title>{_text(name)}</text>"
        )
        shown = (change.anomaly_value, change.reference_value)
        for series, colour in enumerate((ANOMALY_COLOUR, REFERENCE_COLOUR)):
            y = top + series * (_BAR + _PAIR_GAP)
            parts.append(_bar(x(0.0), x(pair[series]), y, colour, shown[series]))
    parts.append(
        f"<text x='{left:.1f}' y='{height - 8}'>bar length: scaled value "
        "(0–1 = normal range); labels: original units</text>"
    )
    return (
        f"<svg role='img' viewBox='0 0 {width:.0f} {height}' width='{width:.0f}' "
        f"height='{height}' aria-label='{_text('Anomaly vs reference: ' + label)}'>"
        f"{''.join(parts)}</svg>"
    )


def _bar(zero: float, tip: float, y: float, colour: str, original: object) -> str:
    """One bar from the zero line to ``tip``, labelled in original units."""
    start, end = sorted((zero, tip))
    text = _shorten(format_value(original), _LONGEST_VALUE)
    return (
        f"<rect x='{start:.1f}' y='{y:.1f}' width='{max(end - start, 1):.1f}' "
        f"height='{_BAR}' fill='{colour}'/><text x='{end + 4:.1f}' "
        f"y='{y + _BAR - 2:.1f}' style='fill:{colour}'>{_text(text)}</text>"
    )


def _legend(left: float) -> str:
    items = []
    for offset, (name, colour) in enumerate(
        (("anomaly", ANOMALY_COLOUR), ("reference", REFERENCE_COLOUR))
    ):
        x = left + offset * 110
        items.append(
            f"<rect x='{x:.1f}' y='6' width='12' height='12' fill='{colour}'/>"
            f"<text x='{x + 18:.1f}' y='16'>{name}</text>"
        )
    return "".join(items)


def _height(vector: np.ndarray, dims: tuple[int, ...]) -> float:
    """A numeric feature's value; for a one-hot group, its largest dimension."""
    return float(np.max(vector[list(dims)]))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
