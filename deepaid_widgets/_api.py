"""The public entry points: ``interpret`` (a result) and ``explain`` (a panel)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ._errors import InputError, describe
from .core._scorer import ReconstructionScore, checked_score, frozen_copy
from .core._validate import as_record, as_rows, as_threshold
from .core.detectors import QUANTILE_LEVELS, AutoencoderDetector, calibrate_threshold
from .core.explanation import Explanation
from .core.params import SearchParams
from .core.schema import TabularSchema
from .core.tabular import Display, TabularDomain, TabularProblem

if TYPE_CHECKING:
    from .views.panel import ExplainPanel


def prepare(
    model: Any,
    x: Any,
    *,
    threshold: float | None = None,
    normal: Any = None,
    bounds: tuple[Any, Any] | None = None,
    feature_names: Sequence[str] | None = None,
    schema: TabularSchema | None = None,
    percentile: float = 99.0,
    params: SearchParams | None = None,
) -> TabularProblem:
    """Check the inputs once and build a problem that can be solved many times.

    See ``interpret`` for the parameters.
    """
    if isinstance(model, AutoencoderDetector):
        if feature_names is not None or schema is not None:
            raise InputError(
                "feature_names" if schema is None else "schema",
                "nothing: an AutoencoderDetector carries its own schema",
                "names for its features",
                "Drop the argument, or pass detector.module to use your names.",
            )
        return _prepare_detector(
            model, x, threshold, normal, bounds, percentile, params
        )
    # The private copy runs on the CPU in float32, whatever the user's is on.
    module = frozen_copy(model).to("cpu", torch.float32)

    anomaly, names = _record_and_names(x, feature_names, schema, module)
    if schema is None:
        schema = TabularSchema.plain(names)
    score = ReconstructionScore(module)
    # Checked on x first, so that a broken model is named before calibration.
    checked_score(score, torch.as_tensor(anomaly[None], dtype=torch.float32))

    rows = None if normal is None else as_rows(normal, "normal", anomaly.size)
    threshold = _threshold(threshold, score, rows, percentile)
    lower, upper = _bounds(bounds, rows, anomaly.size)
    quantiles = None if rows is None else np.quantile(rows, QUANTILE_LEVELS, axis=0)
    domain = TabularDomain(schema, lower, upper, quantiles)
    return TabularProblem(score, anomaly, threshold, domain, default_params=params)


def _record_and_names(
    x: Any,
    feature_names: Sequence[str] | None,
    schema: TabularSchema | None,
    module: torch.nn.Module,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The record as ``(d,)`` floats and the name of each of its features.

    A pandas ``x`` whose columns are the same names in another order is
    reordered to match ``feature_names``.
    """
    if isinstance(feature_names, str) or (
        feature_names is not None
        and not all(isinstance(name, str) for name in feature_names)
    ):
        raise InputError(
            "feature_names",
            "a sequence of strings",
            describe(feature_names),
            'Pass e.g. feature_names=["duration", "src_bytes", ...].',
        )
    names = tuple(feature_names) if feature_names is not None else None
    if schema is not None:
        names = schema.feature_names
    width = _input_width(module) if names is None else None
    anomaly, columns = as_record(x, width, names)
    if names is None:
        return anomaly, columns or tuple(f"x{i}" for i in range(anomaly.size))
    if len(names) != anomaly.size:
        raise InputError(
            "feature_names" if schema is None else "schema",
            f"one name per feature of x ({anomaly.size})",
            f"{len(names)} names",
            "Give exactly one name per column of the model's input.",
        )
    if columns is not None and columns != names:
        if set(columns) != set(names):
            raise InputError(
                "x",
                "columns named as in feature_names",
                f"columns {sorted(set(columns) - set(names))[:5]} not among them",
                "Rename the columns, or leave feature_names out to use them.",
            )
        anomaly = anomaly[[columns.index(name) for name in names]]
    return anomaly, names


def _threshold(
    threshold: Any,
    score: ReconstructionScore,
    rows: np.ndarray | None,
    percentile: float,
) -> float:
    if threshold is not None:
        return as_threshold(threshold)
    if rows is not None:
        if not isinstance(percentile, int | float) or not 0 < percentile < 100:
            raise InputError(
                "percentile",
                "a number in (0, 100)",
                repr(percentile),
                "Use e.g. percentile=99.",
            )
        return as_threshold(calibrate_threshold(score, rows, percentile))
    raise InputError(
        "threshold",
        "a positive number, or normal= rows to calibrate it from",
        "neither threshold nor normal",
        "Pass threshold=<float> or normal=<array of normal rows (n, d)>.",
    )


def _prepare_detector(
    detector: AutoencoderDetector,
    x: Any,
    threshold: float | None,
    normal: Any,
    bounds: tuple[Any, Any] | None,
    percentile: float,
    params: SearchParams | None,
) -> TabularProblem:
    raw = detector.preprocessor is not None and hasattr(x, "to_numpy")
    if raw and hasattr(x, "columns") and len(x) != 1:
        raise InputError(
            "x",
            "one record (a Series or a one-row DataFrame)",
            f"a DataFrame of {len(x)} rows",
            "Pass frame.iloc[[i]] or frame.iloc[i].",
        )
    record = detector.to_model_space(x) if raw else x
    width = detector.schema.n_features
    anomaly, _ = as_record(record, width, detector.schema.feature_names)
    score, domain = _detector_parts(detector)

    # normal= re-calibrates the threshold and the domain for this call only.
    rows = None
    if normal is not None:
        if hasattr(normal, "columns"):
            normal = detector.to_model_space(normal)
        rows = as_rows(normal, "normal", width)
    if threshold is None and rows is None:
        threshold = detector.threshold
    threshold = _threshold(threshold, score, rows, percentile)
    if rows is not None or bounds is not None:
        lower, upper = _bounds(bounds, rows, width)
        quantiles = detector.quantiles
        if rows is not None:
            quantiles = np.quantile(rows, QUANTILE_LEVELS, axis=0)
        domain = TabularDomain(
            detector.schema, lower, upper, quantiles, domain.display, domain.rounder
        )
    return TabularProblem(score, anomaly, threshold, domain, default_params=params)


#: detector -> (fingerprint of its weights and fields, score, domain)
_PARTS: weakref.WeakKeyDictionary[AutoencoderDetector, tuple] = (
    weakref.WeakKeyDictionary()
)
_PARTS_LOCK = threading.Lock()


def _detector_parts(
    detector: AutoencoderDetector,
) -> tuple[ReconstructionScore, TabularDomain]:
    """The frozen copy and the domain of a detector, rebuilt only on change.

    The fingerprint holds each weight's identity and in-place version, so a
    retrained or edited detector is copied again.
    """
    tensors = [*detector.module.parameters(), *detector.module.buffers()]
    fingerprint = (
        tuple((id(t), t._version) for t in tensors),
        id(detector.module),
        id(detector.schema),
        id(detector.lower),
        id(detector.upper),
        id(detector.quantiles),
        id(detector.preprocessor),
    )
    with _PARTS_LOCK:
        cached = _PARTS.get(detector)
    if cached is not None and cached[0] == fingerprint:
        return cached[1], cached[2]

    score = ReconstructionScore(frozen_copy(detector.module))
    display: Display | None = None
    if detector.preprocessor is not None:
        display = _preprocessor_display(detector.preprocessor)
    domain = TabularDomain(
        detector.schema,
        detector.lower,
        detector.upper,
        detector.quantiles,
        display,
        getattr(detector.preprocessor, "round_integers", None),
    )
    with _PARTS_LOCK:
        _PARTS[detector] = (fingerprint, score, domain)
    return score, domain


def _preprocessor_display(preprocessor: Any) -> Display:
    def display(rows: np.ndarray) -> list[dict[str, Any]]:
        return preprocessor.to_records(rows)

    return display


def _input_width(module: torch.nn.Module) -> int | None:
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            return layer.in_features
    return None


def _bounds(
    bounds: tuple[Any, Any] | None, rows: np.ndarray | None, width: int
) -> tuple[np.ndarray, np.ndarray]:
    if bounds is None:
        if rows is None:
            return np.full(width, -np.inf), np.full(width, np.inf)
        return rows.min(axis=0), rows.max(axis=0)
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise InputError(
            "bounds",
            "a pair (lower, upper) of scalars or arrays of shape (d,)",
            describe(bounds),
            "Pass e.g. bounds=(0.0, 1.0).",
        )
    pair = []
    for side, value, default in (
        ("lower", bounds[0], -np.inf),
        ("upper", bounds[1], np.inf),
    ):
        try:
            array = np.asarray(default if value is None else value, dtype=np.float64)
            array = np.broadcast_to(array, (width,)).copy()
        except (TypeError, ValueError) as error:
            raise InputError(
                "bounds",
                f"{side} bound: a number or an array of shape ({width},); None "
                "for no bound",
                describe(value),
                "Pass e.g. bounds=(0.0, 1.0) or per-feature arrays.",
            ) from error
        if np.isnan(array).any():
            raise InputError(
                "bounds",
                f"{side} bound: numbers (inf allowed)",
                "NaN",
                "Use None or inf for an open side.",
            )
        pair.append(array)
    if (pair[0] > pair[1]).any():
        raise InputError(
            "bounds",
            "lower <= upper in every feature",
            f"lower > upper in {int((pair[0] > pair[1]).sum())} feature(s)",
            "Swap or fix the offending bounds.",
        )
    return pair[0], pair[1]


def interpret(
    model: Any,
    x: Any,
    *,
    threshold: float | None = None,
    normal: Any = None,
    k: int = 5,
    stability_weight: float = 0.01,
    eps: float | None = None,
    max_steps: int = 60,
    noise: float = 0.0,
    seed: int = 0,
    locked: Sequence[str] = (),
    bounds: tuple[Any, Any] | None = None,
    feature_names: Sequence[str] | None = None,
    schema: TabularSchema | None = None,
    percentile: float = 99.0,
) -> Explanation:
    """Explain why ``model`` flags ``x``: search a nearby reference it calls normal.

    Implements DeepAID (Han et al., CCS'21) with its constraints enforced
    exactly: fidelity ``score(x*) <= threshold - eps``, stability (weight
    ``stability_weight`` on ``||x* - x°||_2``), conciseness (at most ``k``
    features differ), validity (``bounds``, ``locked`` features, one-hot
    groups stay one category) and robustness (seeded start ``noise``).

    Parameters
    ----------
    model : torch.nn.Module or AutoencoderDetector
        A module mapping float rows ``(n, d)`` to their reconstruction; the
        score is ``sqrt(mean((model(x) - x) ** 2))``. Never modified: a private
        eval-mode copy is used.
    x : array-like, torch.Tensor or pandas Series / one-row DataFrame
        The record ``x°``, shape ``(d,)`` in the model's input space (or raw
        columns when ``model`` is a detector with a preprocessor).
    threshold : float, optional
        Scores above it are anomalous. Needed unless ``normal`` is given or
        ``model`` is an ``AutoencoderDetector``.
    normal : array-like, optional
        Normal rows ``(n, d)``: calibrate the threshold (``percentile``), the
        default bounds (their range) and candidate values (their quantiles).
    k, stability_weight, eps, max_steps, noise, seed, locked
        See ``SearchParams``.
    bounds : (lower, upper), optional
        Scalars or arrays ``(d,)`` a changed feature must stay within.
    feature_names, schema : optional
        Names of the ``d`` dimensions, or a ``TabularSchema`` with one-hot
        groups. Column names of a pandas ``x`` are used otherwise.

    Returns
    -------
    Explanation
    """
    params = SearchParams(
        k, stability_weight, eps, max_steps, noise, seed, _names_tuple(locked)
    )
    problem = prepare(
        model,
        x,
        threshold=threshold,
        normal=normal,
        bounds=bounds,
        feature_names=feature_names,
        schema=schema,
        percentile=percentile,
        params=params,
    )
    return problem.solve(params)


def explain(model: Any, x: Any, **options: Any) -> ExplainPanel:
    """The live panel for ``interpret(model, x, **options)``.

    Returns an ``ExplainPanel`` widget; its ``.explanation`` is the current
    result and its sliders re-run the search off the kernel's main thread.
    """
    from .views.panel import ExplainPanel

    search_options = {
        key: options.pop(key)
        for key in list(options)
        if key
        in {"k", "stability_weight", "eps", "max_steps", "noise", "seed", "locked"}
    }
    if "locked" in search_options:
        search_options["locked"] = _names_tuple(search_options["locked"])
    params = SearchParams(**search_options)
    problem = prepare(model, x, params=params, **options)
    return ExplainPanel(problem, params)


def _names_tuple(locked: Any) -> tuple[str, ...]:
    """``locked`` as a tuple; a lone string is refused, not split in letters."""
    if isinstance(locked, str) or not hasattr(locked, "__iter__"):
        raise InputError(
            "locked",
            "a sequence of feature names",
            describe(locked),
            f"Wrap a single name in a list: locked=[{locked!r}].",
        )
    return tuple(locked)
