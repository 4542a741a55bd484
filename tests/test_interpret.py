"""The interpreter's constraints and guarantees, on planted and real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepaid_widgets import AutoencoderDetector, interpret, prepare
from deepaid_widgets.core.params import SearchParams
from deepaid_widgets.datasets import load_nsl_kdd

from .conftest import first_flagged


def low_rank_gaussian(rng: np.random.Generator, n: int, mix: np.ndarray) -> np.ndarray:
    """Gaussian rows of shape (n, 100) with a rank-8 covariance plus noise."""
    latent = rng.normal(size=(n, mix.shape[1]))
    return (latent @ mix.T + 0.1 * rng.normal(size=(n, mix.shape[0]))).astype(
        np.float32
    )


def linear_autoencoder(width: int, code: int, seed: int) -> torch.nn.Module:
    """An untrained ``width -> code -> width`` module, seeded without touching
    the global generator."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Linear(width, code), torch.nn.Linear(code, width)
        )


def test_planted_cause_is_named_exactly() -> None:
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(100, 8)) / np.sqrt(8)
    detector = AutoencoderDetector.fit(low_rank_gaussian(rng, 4000, mix), seed=0)
    planted = rng.choice(100, size=10, replace=False)
    anomalies = low_rank_gaussian(rng, 12, mix)
    anomalies[:, planted] += 3.0

    for anomaly in anomalies:
        explanation = interpret(detector, anomaly, k=10)
        named = {int(change.name.removeprefix("x")) for change in explanation.changes}
        assert explanation.fidelity_met
        assert named == set(planted.tolist())


def test_default_settings_meet_fidelity_within_every_constraint(
    kdd_detector, kdd_flagged, kdd_sample
) -> None:
    schema, lower, upper = kdd_detector.schema, kdd_detector.lower, kdd_detector.upper
    met = 0
    for index in kdd_sample:
        explanation = interpret(kdd_detector, kdd_flagged.rows[index])
        met += explanation.fidelity_met
        assert len(explanation.changes) <= explanation.params.k
        assert explanation.fidelity_met == (
            explanation.reference_score <= explanation.threshold - explanation.eps
        )
        changed = {change.name for change in explanation.changes}
        for group in schema.groups:
            dims = list(group.indices)
            anomaly, reference = explanation.anomaly[dims], explanation.reference[dims]
            if group.name not in changed:
                np.testing.assert_array_equal(reference, anomaly)
            elif group.is_categorical:
                assert sorted(reference.tolist()) == [0.0] * (len(dims) - 1) + [1.0]
            else:
                assert lower[dims[0]] - 1e-6 <= reference[0] <= upper[dims[0]] + 1e-6
    assert met / len(kdd_sample) >= 0.95


def test_counts_stay_whole_numbers(kdd_detector, kdd_flagged, kdd_sample) -> None:
    data = kdd_detector.preprocessor
    raw = load_nsl_kdd().train
    whole = [
        name
        for name in data.columns
        if name not in ("protocol_type", "service", "flag")
        and (raw[name] % 1 == 0).all()
    ]
    assert {"count", "src_bytes", "su_attempted"} <= set(whole)
    for index in kdd_sample[:60]:
        explanation = interpret(kdd_detector, kdd_flagged.rows[index])
        for change in explanation.changes:
            if change.name in whole:
                value = float(change.reference_value)
                assert value == pytest.approx(round(value), abs=1e-3), change


def test_locked_features_never_change(kdd_detector, kdd_flagged, kdd_sample) -> None:
    for index in kdd_sample[:40]:
        first = interpret(kdd_detector, kdd_flagged.rows[index])
        locked = first.changed_features[:2]
        second = interpret(kdd_detector, kdd_flagged.rows[index], locked=locked)
        assert not set(locked) & set(second.changed_features)
        for name in locked:
            dims = list(
                kdd_detector.schema.groups[_position(kdd_detector, name)].indices
            )
            np.testing.assert_array_equal(second.reference[dims], second.anomaly[dims])


def _position(detector: AutoencoderDetector, name: str) -> int:
    return detector.schema.group_index(name)


def test_user_bounds_hold_for_a_plain_module() -> None:
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(100, 8)) / np.sqrt(8)
    normal = low_rank_gaussian(rng, 3000, mix)
    detector = AutoencoderDetector.fit(normal, epochs=15, seed=1)
    anomaly = low_rank_gaussian(rng, 1, mix)[0]
    anomaly[:5] += 3.0

    explanation = interpret(
        detector.module, anomaly, normal=normal, bounds=(-0.5, 0.5), k=10
    )
    moved = explanation.reference != explanation.anomaly
    assert moved.any()
    assert np.all(np.abs(explanation.reference[moved]) <= 0.5 + 1e-6)


def test_contributions_are_score_rises_in_decreasing_order(
    kdd_detector, kdd_flagged, kdd_sample
) -> None:
    for index in kdd_sample[:20]:
        explanation = interpret(kdd_detector, kdd_flagged.rows[index], k=8)
        contributions = [change.contribution for change in explanation.changes]
        assert contributions == sorted(contributions, reverse=True)
        for change in explanation.changes:
            undone = explanation.reference.copy()
            dims = list(change.indices)
            undone[dims] = explanation.anomaly[dims]
            rise = kdd_detector.score(undone[None])[0] - explanation.reference_score
            assert rise == pytest.approx(change.contribution, abs=1e-5)


def test_impossible_constraints_report_the_gap(kdd_detector, kdd_flagged) -> None:
    flagged = np.flatnonzero(kdd_flagged.flagged)
    results = [interpret(kdd_detector, kdd_flagged.rows[i], k=1) for i in flagged[:60]]
    failures = [result for result in results if not result.fidelity_met]
    assert failures, "K=1 should be too tight for some of these records"
    for result in failures:
        assert result.status == "not_met"
        assert result.reference_score > result.threshold - result.eps
        assert result.gap == pytest.approx(
            result.reference_score - (result.threshold - result.eps)
        )
        assert "NOT met" in result.summary()
        assert len(result.changes) <= 1


def test_normal_input_gets_an_explicit_not_anomalous_result(
    kdd_detector, kdd_flagged
) -> None:
    index = int(np.flatnonzero(~kdd_flagged.flagged)[0])
    explanation = interpret(kdd_detector, kdd_flagged.rows[index])
    assert explanation.status == "not_anomalous"
    assert not explanation.fidelity_met
    assert not explanation.is_anomalous
    assert explanation.changes == ()
    assert explanation.steps == 0
    np.testing.assert_array_equal(explanation.reference, explanation.anomaly)
    assert "Not anomalous" in explanation.to_text()


def test_same_seed_gives_the_same_result_with_noise(kdd_detector, kdd_flagged) -> None:
    row = kdd_flagged.rows[first_flagged(kdd_flagged, "guess_passwd")]
    problem = prepare(kdd_detector, row)
    params = SearchParams(k=5, noise=0.1, seed=3)
    first, second = problem.solve(params), problem.solve(params)
    again = interpret(kdd_detector, row, k=5, noise=0.1, seed=3)
    np.testing.assert_array_equal(first.reference, second.reference)
    np.testing.assert_array_equal(first.reference, again.reference)
    assert first.changed_features == again.changed_features


def test_raw_record_and_model_space_row_give_the_same_explanation(
    kdd_detector, kdd_flagged
) -> None:
    index = first_flagged(kdd_flagged, "neptune")
    raw = load_nsl_kdd().test.iloc[index][list(kdd_detector.preprocessor.columns)]
    from_raw = interpret(kdd_detector, raw)
    from_row = interpret(kdd_detector, kdd_flagged.rows[index])
    np.testing.assert_allclose(from_raw.reference, from_row.reference)
    assert from_raw.anomaly_original["service"] == raw["service"]


def test_explanation_forms_agree(kdd_detector, kdd_flagged) -> None:
    explanation = interpret(
        kdd_detector, kdd_flagged.rows[first_flagged(kdd_flagged, "neptune")]
    )
    frame = explanation.to_dataframe()
    assert list(frame["feature"]) == list(explanation.changed_features)
    text = explanation.to_text()
    for change in explanation.changes:
        assert change.name in text
    assert f"{explanation.reference_score:.4g}" in text
    assert explanation.to_dict()["fidelity_met"] == explanation.fidelity_met


def test_threshold_calibrated_from_normal_rows() -> None:
    rng = np.random.default_rng(2)
    mix = rng.normal(size=(20, 4))
    normal = low_rank_gaussian(rng, 500, mix)
    model = linear_autoencoder(20, 4, seed=2)
    with torch.no_grad():
        scores = torch.sqrt(
            ((model(torch.from_numpy(normal)) - torch.from_numpy(normal)) ** 2).mean(1)
        )
    anomaly = normal[0] + 10
    explanation = interpret(model, anomaly, normal=normal, percentile=95)
    assert explanation.threshold == pytest.approx(
        float(np.percentile(scores, 95)), rel=1e-5
    )


def test_a_float64_module_is_explained_without_touching_its_dtype() -> None:
    rng = np.random.default_rng(3)
    mix = rng.normal(size=(12, 3))
    normal = low_rank_gaussian(rng, 400, mix)
    model = linear_autoencoder(12, 3, seed=3).double()
    anomaly = normal[0].copy()
    anomaly[:2] += 8.0
    explanation = interpret(model, anomaly, normal=normal, k=4)
    assert explanation.is_anomalous
    assert next(model.parameters()).dtype == torch.float64


def test_detector_with_normal_rows_recalibrates_for_this_call_only(
    kdd_detector, kdd_flagged
) -> None:
    row = kdd_flagged.rows[first_flagged(kdd_flagged, "neptune")]
    normal = kdd_flagged.rows[kdd_flagged.labels == "normal"][:2000]
    strict = interpret(kdd_detector, row, normal=normal, percentile=50)
    expected = np.percentile(kdd_detector.score(normal), 50)
    assert strict.threshold == pytest.approx(expected, rel=1e-5)
    assert interpret(kdd_detector, row).threshold == kdd_detector.threshold
