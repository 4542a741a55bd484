"""The NSL-KDD network-intrusion records bundled with the package."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

from .._errors import InputError, describe
from ._tabular import TabularPreprocessor

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

CATEGORICAL_COLUMNS = ("protocol_type", "service", "flag")

#: Columns ``nsl_kdd_preprocessor`` passes through ``log1p`` (statistics of the
#: training split). Bytes and duration span five to nine orders of magnitude
#: (``src_bytes``: median 44, maximum 3.8e8). The rare-event counters are zero
#: on 98-99.7% of rows with a long tail (``num_root``: maximum 975, 99.9th
#: percentile 9). The connection counts are capped at 511 or 255; ``count`` and
#: ``srv_count`` sit near zero for normal traffic (median 4 and 6), where 1
#: against 10 connections matters more than 400 against 500. The ``dst_host``
#: counts are logged for symmetry with them.
LOG_SCALED_COLUMNS = (
    "duration",
    "src_bytes",
    "dst_bytes",
    "hot",
    "num_compromised",
    "num_root",
    "num_file_creations",
    "num_access_files",
    "count",
    "srv_count",
    "dst_host_count",
    "dst_host_srv_count",
)

CITATION = (
    'M. Tavallaee, E. Bagheri, W. Lu and A. A. Ghorbani, "A Detailed Analysis '
    'of the KDD CUP 99 Data Set", Proceedings of the IEEE Symposium on '
    "Computational Intelligence for Security and Defense Applications (CISDA), "
    "2009. Data: Canadian Institute for Cybersecurity, University of New "
    "Brunswick; free for research with citation."
)

_FILES = {
    "train": "KDDTrain+_20Percent.txt.gz",
    "test": "KDDTest+.txt.gz",
    "test_21": "KDDTest-21.txt.gz",
}


@dataclass(frozen=True, eq=False)
class NslKdd:
    """The three bundled NSL-KDD splits.

    Each frame holds the 41 feature columns (``protocol_type``, ``service``
    and ``flag`` as strings, the rest int64 counts or float64 rates), then
    ``label`` (attack name or ``"normal"``), ``difficulty`` (0–21: how many
    of the dataset authors' 21 reference classifiers labelled the record
    correctly) and ``is_attack`` (bool, ``label != "normal"``).

    The frames are shared by every call to :func:`load_nsl_kdd`; copy one
    before modifying it.

    Attributes
    ----------
    train : pandas.DataFrame
        ``KDDTrain+_20Percent``: 25,192 records, 13,449 normal.
    test : pandas.DataFrame
        ``KDDTest+``: 22,544 records, with attack types absent from training.
    test_21 : pandas.DataFrame
        ``KDDTest-21``: the 11,850 test records that not all 21 reference
        classifiers got right.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    test_21: pd.DataFrame

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """The 41 feature names, in file order."""
        return _column_names()[:41]

    @property
    def categorical_columns(self) -> tuple[str, ...]:
        """``("protocol_type", "service", "flag")``."""
        return CATEGORICAL_COLUMNS

    @property
    def citation(self) -> str:
        """The reference to cite when using this data."""
        return CITATION

    def __repr__(self) -> str:
        sizes = (f"{name}={len(getattr(self, name))} rows" for name in _FILES)
        return f"NslKdd({', '.join(sizes)})"


def load_nsl_kdd() -> NslKdd:
    """Load the bundled NSL-KDD splits (offline, parsed once per process).

    Returns
    -------
    NslKdd
        ``train`` (25,192 rows), ``test`` (22,544) and ``test_21`` (11,850),
        each with 44 columns: 41 features, ``label``, ``difficulty``,
        ``is_attack``. The frames are shared between calls; copy before
        modifying.
    """
    return _load()


def nsl_kdd_preprocessor(data: NslKdd | None = None) -> TabularPreprocessor:
    """The recommended encoding of NSL-KDD records for a detector.

    One-hot ``protocol_type``, ``service`` and ``flag`` with the categories
    of all three splits (so test records never fall outside the vocabulary),
    ``log1p`` on :data:`LOG_SCALED_COLUMNS`, and min-max scaling fitted on the
    normal records of ``data.train`` only.

    Parameters
    ----------
    data : NslKdd, optional
        Splits to fit on. Default: :func:`load_nsl_kdd`.

    Returns
    -------
    TabularPreprocessor
        Fitted; ``transform`` gives float32 arrays of shape (n, 119) for the
        bundled data.
    """
    if data is None:
        data = load_nsl_kdd()
    if not isinstance(data, NslKdd):
        raise InputError(
            "data",
            "an NslKdd as returned by load_nsl_kdd()",
            describe(data),
            "Call nsl_kdd_preprocessor() without arguments to use the bundled data.",
        )

    splits = (data.train, data.test, data.test_21)
    vocabulary = {
        name: sorted({str(v) for split in splits for v in split[name].unique()})
        for name in CATEGORICAL_COLUMNS
    }
    preprocessor = TabularPreprocessor(
        CATEGORICAL_COLUMNS,
        LOG_SCALED_COLUMNS,
        columns=data.feature_columns,
        categories=vocabulary,
    )
    return preprocessor.fit(data.train, normal=~data.train["is_attack"].to_numpy())


@functools.lru_cache(maxsize=1)
def _column_names() -> tuple[str, ...]:
    text = _data_dir().joinpath("columns.txt").read_text(encoding="utf-8")
    return tuple(text.split())


@functools.lru_cache(maxsize=1)
def _load() -> NslKdd:
    return NslKdd(**{split: _read(name) for split, name in _FILES.items()})


def _read(file_name: str) -> pd.DataFrame:
    names = _column_names()
    dtypes = dict.fromkeys(names, "int64")
    dtypes.update({name: "float64" for name in names if name.endswith("_rate")})
    dtypes.update(dict.fromkeys((*CATEGORICAL_COLUMNS, "label"), str))
    with _data_dir().joinpath(file_name).open("rb") as handle:
        frame = pd.read_csv(
            handle, header=None, names=list(names), dtype=dtypes, compression="gzip"
        )
    frame["is_attack"] = frame["label"] != "normal"
    return frame


def _data_dir() -> Traversable:
    return resources.files(__package__) / "data" / "nsl_kdd"
