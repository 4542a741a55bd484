"""Loaders of the real data bundled with the package, and their encodings."""

from ._tabular import TabularPreprocessor
from .nsl_kdd import NslKdd, load_nsl_kdd, nsl_kdd_preprocessor

__all__ = ["NslKdd", "TabularPreprocessor", "load_nsl_kdd", "nsl_kdd_preprocessor"]
