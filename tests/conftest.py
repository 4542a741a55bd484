"""Shared fixtures: the real NSL-KDD detector, trained once per session."""

from __future__ import annotations

import numpy as np
import pytest

from deepaid_widgets.demo import FlaggedTest, flag_test_records, nsl_kdd_detector


@pytest.fixture(scope="session")
def kdd_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("deepaid-cache"))


@pytest.fixture(scope="session")
def kdd_detector(kdd_cache: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPAID_CACHE", kdd_cache)
        return nsl_kdd_detector()


@pytest.fixture(scope="session")
def kdd_flagged(kdd_detector) -> FlaggedTest:
    return flag_test_records(kdd_detector)


@pytest.fixture(scope="session")
def kdd_sample(kdd_flagged: FlaggedTest) -> np.ndarray:
    """A fixed random sample of 300 flagged KDDTest+ record indices."""
    flagged = np.flatnonzero(kdd_flagged.flagged)
    return np.random.default_rng(7).choice(flagged, size=300, replace=False)


def first_flagged(flagged: FlaggedTest, label: str) -> int:
    """Index of the first flagged KDDTest+ record with ``label``."""
    return int(np.flatnonzero(flagged.flagged & (flagged.labels == label))[0])
