"""DeepAID explanations of deep anomaly detectors, live in Jupyter.

``interpret(model, x, ...)`` returns an ``Explanation``; ``explain(model, x,
...)`` returns the interactive panel. See the README for a tour.
"""

from ._api import explain, interpret, prepare
from ._errors import InputError
from .core.detectors import Autoencoder, AutoencoderDetector
from .core.explanation import Change, Explanation
from .core.params import SearchParams
from .core.schema import FeatureGroup, TabularSchema

__all__ = [
    "Autoencoder",
    "AutoencoderDetector",
    "Change",
    "Explanation",
    "FeatureGroup",
    "InputError",
    "SearchParams",
    "TabularSchema",
    "explain",
    "interpret",
    "prepare",
]

__version__ = "0.1.0"
