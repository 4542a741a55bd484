"""The bundled NSL-KDD detector, trained in seconds and cached as ``.npz``."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .core.detectors import FILE_FORMAT, AutoencoderDetector
from .datasets import NslKdd, load_nsl_kdd, nsl_kdd_preprocessor

logger = logging.getLogger(__name__)

#: Settings of the bundled detector; changing them invalidates the cache.
TRAINING = {"hidden": 64, "code": 16, "epochs": 30, "percentile": 99.0, "seed": 0}


@dataclass(frozen=True)
class FlaggedTest:
    """KDDTest+ in model space with the detector's verdict.

    Attributes
    ----------
    rows : numpy.ndarray
        Shape ``(n, d)`` float32, every KDDTest+ record in model space.
    scores : numpy.ndarray
        Shape ``(n,)``: reconstruction RMSE of each record.
    flagged : numpy.ndarray
        Shape ``(n,)`` bool: score above the detector's threshold.
    labels : numpy.ndarray
        Shape ``(n,)``: attack name or ``"normal"``.
    roc_auc : float
        Area under the ROC curve of ``scores`` for attack vs normal.
    """

    rows: np.ndarray
    scores: np.ndarray
    flagged: np.ndarray
    labels: np.ndarray
    roc_auc: float


def cache_dir() -> Path:
    """``$DEEPAID_CACHE``, else ``$XDG_CACHE_HOME/deepaid_widgets``, else ~/.cache."""
    if os.environ.get("DEEPAID_CACHE"):
        return Path(os.environ["DEEPAID_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "deepaid_widgets"


def nsl_kdd_detector(
    data: NslKdd | None = None, *, cache: bool = True
) -> AutoencoderDetector:
    """The autoencoder detector of the tour, trained on normal training rows.

    Trains in seconds on 2 CPU cores; with ``cache`` the weights are kept in
    ``cache_dir()`` as plain ``.npz`` and reused on the next call.
    """
    data = data or load_nsl_kdd()
    # The key changes with the settings, the file format and the package
    # version, so that an old cache is never reused by a newer release.
    recipe = (sorted(TRAINING.items()), FILE_FORMAT, __version__)
    key = hashlib.sha256(repr(recipe).encode()).hexdigest()[:12]
    path = cache_dir() / f"nsl_kdd_autoencoder-{key}.npz"
    if cache and path.exists():
        logger.info("reusing the detector in %s", path)
        return AutoencoderDetector.load(path)

    preprocessor = nsl_kdd_preprocessor(data)
    normal = data.train[~data.train["is_attack"]]
    detector = AutoencoderDetector.fit(
        preprocessor.transform(normal), preprocessor=preprocessor, **TRAINING
    )
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        detector.save(temporary)
        temporary.replace(path)
    return detector


def flag_test_records(
    detector: AutoencoderDetector, data: NslKdd | None = None
) -> FlaggedTest:
    """Score every KDDTest+ record and report the detector's ROC AUC."""
    data = data or load_nsl_kdd()
    rows = detector.preprocessor.transform(data.test)
    scores = detector.score(rows)
    attack = data.test["is_attack"].to_numpy(dtype=bool)
    return FlaggedTest(
        rows=rows,
        scores=scores,
        flagged=scores > detector.threshold,
        labels=data.test["label"].to_numpy(dtype=str),
        roc_auc=roc_auc(scores, attack),
    )


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney), ties counted half."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    n_positive, n_negative = positive.sum(), (~positive).sum()
    rank_sum = ranks[positive].sum() - n_positive * (n_positive + 1) / 2
    return float(rank_sum / (n_positive * n_negative))
