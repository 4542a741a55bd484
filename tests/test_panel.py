"""The live panel's logic, in-process: re-optimisation, bursts, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from deepaid_widgets import AutoencoderDetector, TabularSchema, explain, prepare
from deepaid_widgets.core._search import SearchCancelled
from deepaid_widgets.core.explanation import format_value
from deepaid_widgets.views.panel import ExplainPanel

from .conftest import first_flagged


@pytest.fixture
def panel(kdd_detector, kdd_flagged):
    row = kdd_flagged.rows[first_flagged(kdd_flagged, "guess_passwd")]
    built = explain(kdd_detector, row, k=6)
    yield built
    built.close()


def shown_matches(panel: ExplainPanel) -> None:
    """The chart, labels, table and readout all show ``panel.explanation``."""
    explanation = panel.explanation
    names = list(explanation.changed_features)
    assert list(panel.view.bars.x) == names
    assert list(panel.view.names.domain) == names[::-1]  # largest on top
    anomaly_texts = [format_value(c.anomaly_value) for c in explanation.changes]
    assert list(panel.view.texts[0].text) == anomaly_texts
    assert f"{explanation.reference_score:.4g}" in panel.readout.value
    assert f"{explanation.anomaly_score:.4g}" in panel.readout.value
    for name in names:
        assert name in panel.table.value


def test_first_result_is_there_at_once(panel: ExplainPanel) -> None:
    assert panel.explanation.params == panel.params
    assert panel.explanation.fidelity_met
    shown_matches(panel)


def test_changing_k_reoptimises_within_the_new_k(panel: ExplainPanel) -> None:
    wide = panel.explanation
    panel.set_params(k=1)
    assert panel.wait(30)
    assert panel.explanation is not wide
    assert panel.explanation.params.k == 1
    assert len(panel.explanation.changes) <= 1
    assert "of at most 1" in panel.readout.value
    shown_matches(panel)


def test_a_burst_of_changes_ends_on_the_final_values(panel: ExplainPanel) -> None:
    for k in (1, 2, 3, 4, 5, 6, 7, 2):
        panel.set_params(k=k)
    panel.set_params(stability_weight=0.1, noise=0.05, seed=9)
    panel.controls["max_steps"].value = 40
    assert panel.wait(30)
    final = panel.explanation.params
    assert (final.k, final.stability_weight, final.noise, final.seed) == (
        2,
        pytest.approx(0.1),
        pytest.approx(0.05),
        9,
    )
    assert final.max_steps == 40
    assert final == panel.params
    shown_matches(panel)


def test_locking_a_feature_from_the_selector(panel: ExplainPanel) -> None:
    top = panel.explanation.changed_features[0]
    panel.controls["locked"].value = (top,)
    assert panel.wait(30)
    assert top not in panel.explanation.changed_features
    assert panel.explanation.params.locked == (top,)


class Gate:
    """A problem whose solve blocks until released, and notes cancellations."""

    def __init__(self, problem) -> None:
        self.problem = problem
        self.kind, self.threshold = problem.kind, problem.threshold
        self.group_names = problem.group_names
        self.default_params = problem.default_params
        self.release = threading.Event()
        self.entered = threading.Event()
        self.cancelled_seen: list[int] = []
        self.threads: list[str] = []

    def solve(self, params, cancelled=None):
        if cancelled is None:  # the panel's first, synchronous result
            return self.problem.solve(params)
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        while not self.release.wait(0.01):
            if cancelled():
                self.cancelled_seen.append(params.k)
                raise SearchCancelled
        return self.problem.solve(params, cancelled)


def test_search_runs_off_the_main_thread_and_newest_wins(
    kdd_detector, kdd_flagged
) -> None:
    row = kdd_flagged.rows[first_flagged(kdd_flagged, "neptune")]
    gate = Gate(prepare(kdd_detector, row))
    panel = ExplainPanel(gate, gate.default_params)
    first = panel.explanation

    panel.set_params(k=2)
    assert gate.entered.wait(10)
    # The kernel's thread is free while the search is blocked.
    assert panel.explanation is first
    assert "computing" in panel.status.value
    panel.set_params(k=3)
    assert not panel.wait(0.3)
    gate.release.set()
    assert panel.wait(30)

    assert gate.cancelled_seen == [2]
    assert set(gate.threads) == {"deepaid-search"}
    assert panel.explanation.params.k == 3
    assert "computing" not in panel.status.value
    panel.close()


def test_a_failing_search_shows_its_error_and_keeps_the_result(
    kdd_detector, kdd_flagged
) -> None:
    row = kdd_flagged.rows[first_flagged(kdd_flagged, "neptune")]
    problem = prepare(kdd_detector, row)
    panel = ExplainPanel(problem)
    before = panel.explanation

    def broken(params, cancelled=None):
        raise RuntimeError("<b>detector offline</b>")

    problem.solve = broken
    panel.set_params(k=2)
    assert panel.wait(30)
    assert panel.explanation is before
    assert "RuntimeError: &lt;b&gt;detector offline&lt;/b&gt;" in panel.status.value
    panel.close()


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>window.pwned=1</script>",
    '"><svg onload=alert(1)>',
    "plain",
]


def test_hostile_feature_names_reach_html_only_escaped() -> None:
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(4, 2))
    normal = (rng.normal(size=(600, 2)) @ mix.T).astype(np.float32)
    schema = TabularSchema.plain(HOSTILE)
    detector = AutoencoderDetector.fit(normal, schema=schema, epochs=20, seed=0)
    anomaly = normal[0] + np.array([6.0, -6.0, 6.0, 0.0], dtype=np.float32)

    panel = explain(detector, anomaly, k=4)
    assert panel.explanation.changes
    html_values = [panel.readout.value, panel.table.value, panel.status.value]
    for text in html_values:
        for tag in ("<img", "<script", "<svg"):
            assert tag not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel.table.value
    panel.close()


def test_passed_values_outside_slider_ranges_are_kept(
    kdd_detector, kdd_flagged
) -> None:
    row = kdd_flagged.rows[first_flagged(kdd_flagged, "neptune")]
    panel = explain(kdd_detector, row, k=45, noise=0.5, max_steps=500, seed=2**31)
    assert panel.explanation.params == panel.params
    assert (panel.params.k, panel.params.noise) == (45, 0.5)
    assert (panel.params.max_steps, panel.params.seed) == (500, 2**31)
    panel.close()


def test_a_closed_panel_ignores_changes(kdd_detector, kdd_flagged) -> None:
    row = kdd_flagged.rows[first_flagged(kdd_flagged, "neptune")]
    panel = explain(kdd_detector, row)
    shown = panel.explanation
    panel.close()
    panel.close()
    panel.set_params(k=2)
    assert panel.wait(0)
    assert panel.explanation is shown


def test_the_worker_thread_ends_when_idle() -> None:
    from deepaid_widgets.views._runner import LatestWins

    results = []
    runner = LatestWins(
        lambda request, cancelled: request * 2,
        lambda request, result: results.append(result),
        lambda request, error: None,
        idle_seconds=0.05,
    )
    assert not runner.alive
    runner.submit(21)
    assert runner.wait(5)
    assert results == [42]
    deadline = threading.Event()
    deadline.wait(0.5)
    assert not runner.alive
    runner.submit(1)
    assert runner.wait(5)
    assert results == [42, 2]
    runner.close()
