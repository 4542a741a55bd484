"""HTML fragments for the panel; every string from data goes through escape."""

from __future__ import annotations

import html

from ..core.explanation import MET, NOT_ANOMALOUS, Explanation

STYLE = """
<style>
.deepaid-readout { font-family: var(--jp-ui-font-family, sans-serif); }
.deepaid-readout table, .deepaid-table { border-collapse: collapse; }
.deepaid-readout td { padding: 1px 10px 1px 0; }
.deepaid-table td, .deepaid-table th { padding: 2px 10px; text-align: right;
  border-bottom: 1px solid #ddd; font-variant-numeric: tabular-nums; }
.deepaid-table td:first-child, .deepaid-table th:first-child { text-align: left; }
.deepaid-badge { padding: 1px 6px; border-radius: 3px; color: white; }
.deepaid-badge-met { background: #2e7d32; }
.deepaid-badge-not_met { background: #c62828; }
.deepaid-badge-not_anomalous { background: #616161; }
</style>
"""

_STATUS_WORDS = {
    MET: "fidelity met",
    "not_met": "fidelity NOT met",
    NOT_ANOMALOUS: "not anomalous",
}


def readout(explanation: Explanation) -> str:
    """Scores, threshold and fidelity status as a small HTML table."""
    status = explanation.status
    rows = [
        ("anomaly score", f"{explanation.anomaly_score:.4g}", "anomaly-score"),
        ("reference score", f"{explanation.reference_score:.4g}", "reference-score"),
        ("threshold", f"{explanation.threshold:.4g}", "threshold"),
        ("threshold − eps", f"{explanation.threshold - explanation.eps:.4g}", "target"),
        (
            "changed features",
            f"{len(explanation.changes)} of at most {explanation.params.k}",
            "changed",
        ),
    ]
    if status == "not_met":
        rows.append(("gap", f"{explanation.gap:.4g}", "gap"))
    cells = "".join(
        f"<tr><td>{label}</td><td class='deepaid-{key}'>{value}</td></tr>"
        for label, value, key in rows
    )
    return (
        f"{STYLE}<div class='deepaid-readout'>"
        f"<span class='deepaid-badge deepaid-badge-{status}'>"
        f"{_STATUS_WORDS[status]}</span>"
        f"<table>{cells}</table>"
        f"<div class='deepaid-summary'>{html.escape(explanation.summary())}</div>"
        "</div>"
    )


def table(explanation: Explanation) -> str:
    """The changes as an escaped HTML table (empty note when none)."""
    if not explanation.changes:
        return "<div class='deepaid-table-empty'><i>No feature changed.</i></div>"
    return STYLE + explanation.to_html(summary=False)


def status_line(text: str, *, busy: bool = False, error: bool = False) -> str:
    colour = "#c62828" if error else "#555"
    marker = "⏳ " if busy else ""
    return (
        f"<div class='deepaid-status' data-busy='{str(busy).lower()}' "
        f"style='color:{colour}'>{marker}{html.escape(text)}</div>"
    )
