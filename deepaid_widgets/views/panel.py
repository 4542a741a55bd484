"""The live panel: constraint controls, a kind-specific view, fidelity, table."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..core.explanation import Explanation
from ..core.params import SearchParams
from . import _html
from ._runner import LatestWins
from .tabular import TabularView

logger = logging.getLogger(__name__)

#: Data kind -> view class. A new kind registers its view here.
VIEWS: dict[str, Callable[[Any], Any]] = {"tabular": TabularView}


def register_view(kind: str, view: Callable[[Any], Any]) -> None:
    """Use ``view(problem)`` to show explanations of problems of ``kind``."""
    VIEWS[kind] = view


class ExplainPanel(widgets.VBox):
    """An explanation that re-optimises live as the constraints change.

    The search runs on a worker thread; a newer request cancels an older one
    and only the newest result is shown, so the kernel stays responsive and a
    burst of slider moves ends on the result for the final values.

    Parameters
    ----------
    problem : object
        A prepared problem (e.g. ``TabularProblem``) with ``solve(params,
        cancelled)``, ``kind``, ``threshold`` and ``group_names``.
    params : SearchParams, optional
        The starting constraints.

    Attributes
    ----------
    explanation : Explanation
        The result shown now.
    """

    def __init__(self, problem: Any, params: SearchParams | None = None) -> None:
        self.problem = problem
        params = params or problem.default_params
        params = params.updated(eps=params.margin(problem.threshold))
        self.view = VIEWS[problem.kind](problem)
        self._controls = self._make_controls(params, problem)
        self._controls |= self.view.controls()
        self.view.set_params(params)

        self.readout = widgets.HTML()
        self.status = widgets.HTML()
        self.table = widgets.HTML(layout=widgets.Layout(overflow="auto"))
        controls = widgets.VBox(
            list(self._controls.values()),
            layout=widgets.Layout(width="340px", flex="0 0 340px"),
        )
        numbers = widgets.VBox(
            [self.readout, self.status, self.table],
            layout=widgets.Layout(flex="1 1 280px", min_width="280px"),
        )
        top = widgets.HBox(
            [controls, numbers],
            layout=widgets.Layout(width="100%", flex_flow="row wrap"),
        )
        title = widgets.HTML(f"<b>DeepAID: why was this flagged?</b> ({problem.kind})")
        super().__init__([title, top, self.view.widget])
        self.add_class("deepaid-panel")

        # The first result is computed here, so that it is there at once, and
        # from the controls, so that they and the result always agree.
        self.explanation: Explanation = problem.solve(self.params)
        self._show(self.explanation)
        self._runner: LatestWins[SearchParams] = LatestWins(
            self._solve, self._publish, self._report_error, self._set_busy
        )
        for control in self._controls.values():
            control.observe(self._request, names="value")

    @property
    def params(self) -> SearchParams:
        """The constraints the controls show now."""
        values = {name: control.value for name, control in self._controls.items()}
        values["locked"] = tuple(values.get("locked", ()))
        return SearchParams(**values)

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """The controls, keyed by the ``SearchParams`` field each sets."""
        return dict(self._controls)

    def set_params(self, **changes: Any) -> None:
        """Move controls programmatically, e.g. ``panel.set_params(k=3)``."""
        for name, value in changes.items():
            if name not in self._controls:
                raise KeyError(
                    f"no control named {name!r}; have {list(self._controls)}"
                )
            self._controls[name].value = value

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Block until the newest request is shown; False if ``timeout`` ran out."""
        return self._runner.wait(timeout)

    def close(self) -> None:
        """Stop the worker and close the widgets; later changes do nothing."""
        runner = getattr(self, "_runner", None)
        if runner is not None and not runner.closed:
            runner.close()
            for control in self._controls.values():
                control.unobserve(self._request, names="value")
        super().close()

    def _make_controls(
        self, params: SearchParams, problem: Any
    ) -> dict[str, widgets.Widget]:
        # Ranges stretch to hold the values passed in, so that the controls
        # never clamp them behind the user's back.
        style = {"description_width": "110px"}
        layout = widgets.Layout(width="320px")
        threshold = problem.threshold
        common = {"style": style, "layout": layout}
        return {
            "k": widgets.IntSlider(
                value=params.k,
                min=1,
                max=max(1, min(30, len(problem.group_names)), params.k),
                description="K (features)",
                **common,
            ),
            "stability_weight": widgets.FloatLogSlider(
                value=max(params.stability_weight, 1e-6),
                base=10,
                min=-6,
                max=0,
                step=0.25,
                description="stability λ",
                readout_format=".1e",
                **common,
            ),
            "eps": widgets.FloatSlider(
                value=params.margin(threshold),
                min=0.0,
                max=max(0.3 * threshold, params.margin(threshold)),
                step=threshold / 200,
                description="eps",
                readout_format=".3g",
                **common,
            ),
            "max_steps": widgets.IntSlider(
                value=params.max_steps,
                min=0,
                max=max(300, params.max_steps),
                step=5,
                description="step budget",
                **common,
            ),
            "noise": widgets.FloatSlider(
                value=params.noise,
                min=0.0,
                max=max(0.2, params.noise),
                step=0.01,
                description="start noise",
                readout_format=".2f",
                **common,
            ),
            "seed": widgets.BoundedIntText(
                value=params.seed, min=0, max=2**32 - 1, description="seed", **common
            ),
        }

    def _request(self, change: dict[str, Any] | None = None) -> None:
        try:
            params = self.params
        except ValueError as error:
            self._report_error(None, error)
            return
        self.status.value = _html.status_line("computing…", busy=True)
        self._runner.submit(params)

    def _solve(self, params: SearchParams, cancelled: Callable[[], bool]) -> Any:
        return self.problem.solve(params, cancelled)

    def _publish(self, params: SearchParams, explanation: Explanation) -> None:
        self.explanation = explanation
        self._show(explanation)

    def _show(self, explanation: Explanation) -> None:
        self.view.update(explanation)
        with self.hold_sync():
            self.readout.value = _html.readout(explanation)
            self.table.value = _html.table(explanation)
            self.status.value = _html.status_line(
                f"{explanation.seconds * 1000:.1f} ms, {explanation.steps} "
                f"gradient steps, {explanation.evaluations} candidates scored"
            )

    def _report_error(self, params: SearchParams | None, error: BaseException) -> None:
        logger.debug("search failed", exc_info=error)
        self.status.value = _html.status_line(
            f"{type(error).__name__}: {error}", error=True
        )

    def _set_busy(self, busy: bool) -> None:
        if busy:
            self.status.value = _html.status_line("computing…", busy=True)
