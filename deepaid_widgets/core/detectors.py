"""A small autoencoder detector that trains in seconds, saved as plain .npz."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._errors import InputError
from ._scorer import ReconstructionScore, ScoreFunction
from ._validate import as_rows
from .schema import FeatureGroup, TabularSchema

logger = logging.getLogger(__name__)

#: Version of the ``.npz`` layout written by ``AutoencoderDetector.save``.
FILE_FORMAT = 2

#: Preprocessor classes a detector file may name, as ``module:Class``.
PREPROCESSORS = frozenset({"deepaid_widgets.datasets._tabular:TabularPreprocessor"})

#: Quantile levels of normal data kept as candidate values for the search.
QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


class Autoencoder(nn.Module):
    """``d -> hidden -> code -> hidden -> d`` with ReLU; the output is linear."""

    def __init__(self, n_features: int, hidden: int = 64, code: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, code), nn.ReLU()
        )
        self.decoder = nn.Sequential(
            nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, n_features)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def calibrate_threshold(
    score: ScoreFunction, normal: np.ndarray, percentile: float
) -> float:
    """The ``percentile``-th percentile of the scores of ``normal`` rows."""
    with torch.no_grad():
        scores = score(torch.as_tensor(normal, dtype=torch.float32)).numpy()
    return float(np.percentile(scores, percentile))


@dataclass(eq=False)
class AutoencoderDetector:
    """An autoencoder, its threshold and what the search needs about the data.

    Attributes
    ----------
    module : Autoencoder
        Maps ``(n, d)`` float32 rows to their reconstruction.
    threshold : float
        Reconstruction RMSE above which a row is anomalous.
    schema : TabularSchema
        Feature names and one-hot groups of the ``d`` dimensions.
    lower, upper : numpy.ndarray
        Shape ``(d,)``: range of the normal training rows (validity bounds).
    quantiles : numpy.ndarray
        Shape ``(len(QUANTILE_LEVELS), d)``: quantiles of the normal rows.
    preprocessor : object, optional
        Turns raw records into model space (``transform``) and back
        (``inverse_transform``); used for display in original units.
    """

    module: Autoencoder
    threshold: float
    schema: TabularSchema
    lower: np.ndarray
    upper: np.ndarray
    quantiles: np.ndarray
    percentile: float = 99.0
    preprocessor: Any = None

    @classmethod
    def fit(
        cls,
        normal: Any,
        *,
        schema: TabularSchema | None = None,
        preprocessor: Any = None,
        hidden: int = 64,
        code: int = 16,
        epochs: int = 30,
        batch_size: int = 256,
        learning_rate: float = 2e-3,
        percentile: float = 99.0,
        validation_fraction: float = 0.2,
        seed: int = 0,
    ) -> AutoencoderDetector:
        """Train on normal rows of shape ``(n, d)``; threshold from held-out rows.

        The threshold is the ``percentile``-th percentile of the reconstruction
        RMSE on a random ``validation_fraction`` of the normal rows that the
        autoencoder did not train on.
        """
        if schema is None and preprocessor is not None:
            schema = preprocessor.schema
        width = schema.n_features if schema is not None else np.shape(normal)[-1]
        rows = as_rows(normal, "normal", width).astype(np.float32)
        if len(rows) < 10:
            raise InputError(
                "normal",
                "at least 10 normal rows (some train, some set the threshold)",
                f"{len(rows)} row(s)",
                "Pass more normal data.",
            )
        schema = schema or TabularSchema.plain([f"x{i}" for i in range(width)])
        if not 0 < percentile < 100:
            raise InputError(
                "percentile", "a number in (0, 100)", repr(percentile), "Use 99."
            )

        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(rows), generator=generator).numpy()
        n_validation = max(1, int(len(rows) * validation_fraction))
        validation, training = rows[order[:n_validation]], rows[order[n_validation:]]

        torch_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        module = Autoencoder(width, hidden, code)
        torch.random.set_rng_state(torch_state)
        # Small layers train faster on one thread than on two contended ones
        # (and bit-identically); the caller's setting is restored.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            _train(module, training, epochs, batch_size, learning_rate, generator)
        finally:
            torch.set_num_threads(threads)

        threshold = calibrate_threshold(
            ReconstructionScore(module), validation, percentile
        )
        logger.info("trained autoencoder; threshold %.5g", threshold)
        return cls(
            module=module,
            threshold=threshold,
            schema=schema,
            lower=rows.min(axis=0),
            upper=rows.max(axis=0),
            quantiles=np.quantile(rows, QUANTILE_LEVELS, axis=0).astype(np.float32),
            percentile=percentile,
            preprocessor=preprocessor,
        )

    def to_model_space(self, records: Any) -> np.ndarray:
        """Raw records (via the preprocessor) or model-space rows, as ``(n, d)``."""
        if self.preprocessor is not None and hasattr(records, "columns"):
            return self.preprocessor.transform(records)
        if self.preprocessor is not None and hasattr(records, "index"):
            labels = {str(label) for label in records.index}
            if set(self.preprocessor.columns) <= labels:
                return self.preprocessor.transform(records)
        return as_rows(records, "records", self.schema.n_features)

    def score(self, records: Any) -> np.ndarray:
        """Reconstruction RMSE of each row, shape ``(n,)``."""
        rows = torch.as_tensor(self.to_model_space(records), dtype=torch.float32)
        with torch.no_grad():
            return ReconstructionScore(self.module)(rows).numpy()

    def is_anomalous(self, records: Any) -> np.ndarray:
        """Bool array of shape ``(n,)``: score above the threshold."""
        return self.score(records) > self.threshold

    def save(self, path: str | Path) -> Path:
        """Write weights, threshold, schema and preprocessor state to ``.npz``.

        Returns the path written (``.npz`` is appended when missing).
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = Path(f"{path}.npz")
        arrays = {f"module.{k}": v.numpy() for k, v in self.module.state_dict().items()}
        arrays |= {
            "format": np.int64(FILE_FORMAT),
            "threshold": np.float64(self.threshold),
            "percentile": np.float64(self.percentile),
            "lower": self.lower,
            "upper": self.upper,
            "quantiles": self.quantiles,
            "shape": np.array(
                [
                    self.module.encoder[0].out_features,
                    self.module.encoder[2].out_features,
                ]
            ),
        }
        arrays |= _schema_arrays(self.schema)
        if self.preprocessor is not None:
            kind = type(self.preprocessor)
            arrays["preprocessor.class"] = np.array(
                f"{kind.__module__}:{kind.__name__}"
            )
            for key, value in self.preprocessor.state_dict().items():
                arrays[f"preprocessor.{key}"] = value
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> AutoencoderDetector:
        """Read a detector written by ``save`` (plain arrays, never pickles).

        Raises ``InputError`` for a file of another format version, a missing
        or malformed array, a non-positive threshold, or a preprocessor class
        outside ``PREPROCESSORS``.
        """
        path = Path(path)
        if not path.exists() and Path(f"{path}.npz").exists():
            path = Path(f"{path}.npz")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            if int(arrays.get("format", -1)) != FILE_FORMAT:
                raise ValueError(
                    f"format {int(arrays.get('format', -1))}, not {FILE_FORMAT}"
                )
            detector = _detector_from_arrays(arrays)
        except InputError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as error:
            raise InputError(
                "path",
                f"a detector file written by AutoencoderDetector.save (format "
                f"{FILE_FORMAT})",
                f"{str(path)!r}, which failed with {type(error).__name__}: {error}",
                "Train the detector again and save it with this version.",
            ) from error
        return detector


def _detector_from_arrays(arrays: dict[str, np.ndarray]) -> AutoencoderDetector:
    schema = _schema_from_arrays(arrays)
    hidden, code = (int(v) for v in arrays["shape"])
    module = Autoencoder(schema.n_features, hidden, code)
    weights = {
        k[7:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("module.")
    }
    module.load_state_dict(weights)
    module.eval()
    threshold = float(arrays["threshold"])
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold {threshold} is not a positive number")
    preprocessor = None
    if "preprocessor.class" in arrays:
        preprocessor = _load_preprocessor(arrays)
    return AutoencoderDetector(
        module=module,
        threshold=threshold,
        schema=schema,
        lower=arrays["lower"],
        upper=arrays["upper"],
        quantiles=arrays["quantiles"],
        percentile=float(arrays["percentile"]),
        preprocessor=preprocessor,
    )


def _train(
    module: nn.Module,
    rows: np.ndarray,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
) -> None:
    data = torch.from_numpy(rows)
    optimiser = torch.optim.Adam(module.parameters(), lr=learning_rate)
    module.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(data), generator=generator).split(batch_size):
            optimiser.zero_grad(set_to_none=True)
            loss = torch.mean((module(data[batch]) - data[batch]) ** 2)
            loss.backward()
            optimiser.step()
    module.eval()


def _schema_arrays(schema: TabularSchema) -> dict[str, np.ndarray]:
    categories = [group.categories or () for group in schema.groups]
    return {
        "schema.feature_names": np.array(schema.feature_names),
        "schema.group_names": np.array([group.name for group in schema.groups]),
        "schema.group_sizes": np.array([len(group.indices) for group in schema.groups]),
        "schema.group_indices": np.concatenate(
            [np.array(group.indices) for group in schema.groups]
        ),
        "schema.is_categorical": np.array([g.is_categorical for g in schema.groups]),
        "schema.categories": np.array([c for cats in categories for c in cats] or [""]),
    }


def _schema_from_arrays(arrays: dict[str, np.ndarray]) -> TabularSchema:
    groups, start, category_start = [], 0, 0
    for name, size, categorical in zip(
        arrays["schema.group_names"],
        arrays["schema.group_sizes"],
        arrays["schema.is_categorical"],
        strict=True,
    ):
        indices = tuple(
            int(i) for i in arrays["schema.group_indices"][start : start + size]
        )
        categories = None
        if categorical:
            stop = category_start + int(size)
            categories = tuple(
                str(c) for c in arrays["schema.categories"][category_start:stop]
            )
            category_start = stop
        groups.append(FeatureGroup(str(name), indices, categories))
        start += int(size)
    names = tuple(str(name) for name in arrays["schema.feature_names"])
    return TabularSchema(names, tuple(groups))


def _load_preprocessor(arrays: dict[str, np.ndarray]) -> Any:
    name = str(arrays["preprocessor.class"])
    # Only classes on this list are rebuilt: a saved file never chooses code.
    if name not in PREPROCESSORS:
        raise InputError(
            "path",
            f"a detector file whose preprocessor is one of {sorted(PREPROCESSORS)}",
            f"a file naming {name!r}",
            "Save the preprocessor separately and attach it after loading.",
        )
    module_name, class_name = name.split(":")
    kind = getattr(importlib.import_module(module_name), class_name)
    state = {
        k[13:]: v
        for k, v in arrays.items()
        if k.startswith("preprocessor.") and k != "preprocessor.class"
    }
    return kind.from_state_dict(state)
