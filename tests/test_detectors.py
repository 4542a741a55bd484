"""The autoencoder detector's file format: round trips and tampered files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepaid_widgets import AutoencoderDetector, InputError


@pytest.fixture(scope="module")
def small() -> AutoencoderDetector:
    rng = np.random.default_rng(0)
    return AutoencoderDetector.fit(rng.normal(size=(300, 5)), epochs=2, seed=0)


def tampered(small: AutoencoderDetector, tmp_path: Path, **changes) -> Path:
    path = small.save(tmp_path / "good")
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del arrays[key]
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    return bad


def test_save_and_load_round_trip_exactly(small, tmp_path: Path) -> None:
    path = small.save(tmp_path / "detector")
    assert path.name == "detector.npz"
    loaded = AutoencoderDetector.load(tmp_path / "detector")
    rows = np.random.default_rng(1).normal(size=(20, 5))
    np.testing.assert_array_equal(loaded.score(rows), small.score(rows))
    assert loaded.threshold == small.threshold
    assert loaded.schema == small.schema


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"preprocessor.class": np.array("os:system")}, "a file naming 'os:system'"),
        ({"threshold": np.float64(np.nan)}, "not a positive number"),
        ({"threshold": np.float64(-1.0)}, "not a positive number"),
        ({"format": np.int64(1)}, "format 1, not 2"),
        ({"format": None}, "format -1"),
        ({"shape": None}, "KeyError"),
        ({"module.decoder.2.weight": np.zeros((3, 3), np.float32)}, "RuntimeError"),
    ],
)
def test_tampered_files_are_refused_clearly(small, tmp_path, changes, words) -> None:
    bad = tampered(small, tmp_path, **changes)
    with pytest.raises(InputError) as caught:
        AutoencoderDetector.load(bad)
    assert caught.value.parameter == "path"
    assert words in str(caught.value)


def test_a_pickle_is_never_loaded(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"threshold": 1.0}))
    with pytest.raises(InputError, match=r"^path: "):
        AutoencoderDetector.load(path)


def test_too_few_normal_rows_are_refused() -> None:
    with pytest.raises(InputError, match="at least 10 normal rows"):
        AutoencoderDetector.fit(np.zeros((3, 4)))
