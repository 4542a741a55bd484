"""The bundled NSL-KDD splits and the tabular preprocessor built on them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from deepaid_widgets._errors import InputError
from deepaid_widgets.datasets import (
    NslKdd,
    TabularPreprocessor,
    load_nsl_kdd,
    nsl_kdd_preprocessor,
)


@pytest.fixture(scope="module")
def data() -> NslKdd:
    return load_nsl_kdd()


@pytest.fixture(scope="module")
def preprocessor(data: NslKdd) -> TabularPreprocessor:
    return nsl_kdd_preprocessor(data)


@pytest.fixture
def records(data: NslKdd) -> pd.DataFrame:
    """A small mixed sample of test records: normal ones and several attacks."""
    return data.test.sample(n=400, random_state=0).reset_index(drop=True)


def numeric_columns(data: NslKdd) -> list[str]:
    return [c for c in data.feature_columns if c not in data.categorical_columns]


def test_splits_have_the_published_sizes(data: NslKdd) -> None:
    assert (len(data.train), len(data.test), len(data.test_21)) == (
        25_192,
        22_544,
        11_850,
    )
    assert int((data.train["label"] == "normal").sum()) == 13_449
    for split in (data.train, data.test, data.test_21):
        assert (split["is_attack"] == (split["label"] != "normal")).all()


def test_columns_and_dtypes(data: NslKdd) -> None:
    assert len(data.feature_columns) == 41
    assert data.feature_columns[:4] == ("duration", "protocol_type", "service", "flag")
    assert data.categorical_columns == ("protocol_type", "service", "flag")
    expected = [*data.feature_columns, "label", "difficulty", "is_attack"]
    assert list(data.test.columns) == expected

    for name in data.categorical_columns:
        assert pd.api.types.is_string_dtype(data.train[name])
        assert isinstance(data.train[name].iloc[0], str)
    for name in numeric_columns(data):
        assert pd.api.types.is_numeric_dtype(data.train[name]), name
    assert data.train["is_attack"].dtype == bool
    assert data.train["difficulty"].between(0, 21).all()
    assert "Tavallaee" in data.citation
    assert repr(data) == "NslKdd(train=25192 rows, test=22544 rows, test_21=11850 rows)"


def test_test_split_holds_known_and_novel_attacks(data: NslKdd) -> None:
    test_labels = set(data.test["label"])
    assert {"normal", "neptune", "guess_passwd"} <= test_labels
    assert "mscan" in test_labels - set(data.train["label"])


def test_loader_parses_once_and_shares_frames(data: NslKdd) -> None:
    again = load_nsl_kdd()
    assert again.train is data.train
    with pytest.raises(AttributeError):
        again.train = again.test  # type: ignore[misc]


def test_feature_names_and_schema_match_dimension(
    data: NslKdd, preprocessor: TabularPreprocessor
) -> None:
    d = preprocessor.n_features
    splits = pd.concat([data.train, data.test, data.test_21])
    n_categories = sum(splits[c].nunique() for c in data.categorical_columns)
    assert d == len(numeric_columns(data)) + n_categories == 119
    assert len(preprocessor.feature_names) == preprocessor.schema.n_features == d
    assert preprocessor.transform(data.test.head(3)).shape == (3, d)

    groups = preprocessor.schema.groups
    assert tuple(g.name for g in groups) == data.feature_columns
    assert preprocessor.feature_names[0] == "duration"
    assert preprocessor.feature_names[1:4] == (
        "protocol_type=icmp",
        "protocol_type=tcp",
        "protocol_type=udp",
    )
    service = groups[2]
    assert "http" in service.categories
    assert preprocessor.feature_names[service.indices[0]].startswith("service=")
    src_bytes = next(g for g in groups if g.name == "src_bytes")
    assert preprocessor.feature_names[src_bytes.indices[0]] == "src_bytes"


def test_one_hot_groups_sum_to_one(
    data: NslKdd, preprocessor: TabularPreprocessor
) -> None:
    encoded = preprocessor.transform(data.test)

    for group in preprocessor.schema.groups:
        if group.is_categorical:
            block = encoded[:, list(group.indices)]
            assert set(np.unique(block)) == {0.0, 1.0}
            np.testing.assert_array_equal(block.sum(axis=1), 1.0)


def test_normal_training_rows_land_in_the_unit_interval(
    data: NslKdd, preprocessor: TabularPreprocessor
) -> None:
    normal = preprocessor.transform(data.train[~data.train["is_attack"]])
    attacks = preprocessor.transform(data.test[data.test["is_attack"]])

    assert normal.dtype == np.float32
    assert normal.min() >= 0.0
    assert normal.max() <= 1.0
    lower, upper = preprocessor.bounds()
    assert np.all(normal >= lower)
    assert np.all(normal <= upper)
    assert np.all(normal.min(axis=0) == lower)
    assert attacks.max() > 1.0


def test_constant_normal_column_is_shifted_not_divided(
    data: NslKdd, preprocessor: TabularPreprocessor
) -> None:
    # wrong_fragment is 0 on every normal training row but 1 or 3 in attacks.
    position = preprocessor.feature_names.index("wrong_fragment")
    encoded = preprocessor.transform(data.train)

    assert preprocessor.bounds()[1][position] == 0.0
    assert np.isfinite(encoded).all()
    np.testing.assert_array_equal(
        encoded[:, position], data.train["wrong_fragment"].to_numpy()
    )


def test_inverse_transform_recovers_the_records(
    data: NslKdd, preprocessor: TabularPreprocessor, records: pd.DataFrame
) -> None:
    decoded = preprocessor.inverse_transform(preprocessor.transform(records))

    assert list(decoded.columns) == list(data.feature_columns)
    numeric = numeric_columns(data)
    np.testing.assert_allclose(
        decoded[numeric].to_numpy(),
        records[numeric].to_numpy(dtype=np.float64),
        rtol=1e-4,
        atol=1e-6,
    )
    for name in data.categorical_columns:
        assert decoded[name].tolist() == records[name].tolist()


def test_inverse_transform_of_an_empty_group_is_unknown(
    preprocessor: TabularPreprocessor, records: pd.DataFrame
) -> None:
    encoded = preprocessor.transform(records.head(2))
    service = preprocessor.schema.groups[2]
    encoded[0, list(service.indices)] = 0.0

    decoded = preprocessor.inverse_transform(encoded)

    assert decoded["service"].tolist() == [
        TabularPreprocessor.unknown_category,
        records["service"].iloc[1],
    ]


def test_state_dict_survives_an_npz_file(
    tmp_path, preprocessor: TabularPreprocessor, records: pd.DataFrame
) -> None:
    path = tmp_path / "preprocessor.npz"
    np.savez(path, **preprocessor.state_dict())
    with np.load(path, allow_pickle=False) as stored:
        rebuilt = TabularPreprocessor.from_state_dict(dict(stored))

    assert rebuilt.feature_names == preprocessor.feature_names
    assert rebuilt.schema == preprocessor.schema
    np.testing.assert_array_equal(
        rebuilt.transform(records), preprocessor.transform(records)
    )
    for ours, theirs in zip(rebuilt.bounds(), preprocessor.bounds(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    pd.testing.assert_frame_equal(
        rebuilt.inverse_transform(rebuilt.transform(records)),
        preprocessor.inverse_transform(preprocessor.transform(records)),
    )


def test_from_state_dict_rejects_an_incomplete_state(
    preprocessor: TabularPreprocessor,
) -> None:
    state = preprocessor.state_dict()
    del state["maximum"]

    with pytest.raises(InputError, match="maximum") as error:
        TabularPreprocessor.from_state_dict(state)
    assert error.value.parameter == "state"


def test_unknown_category_warns_and_encodes_zeros(data: NslKdd) -> None:
    features = list(data.feature_columns)
    trained_only = TabularPreprocessor(data.categorical_columns, columns=features)
    trained_only.fit(data.train, normal=~data.train["is_attack"].to_numpy())
    # tftp_u appears once in KDDTest+ and never in the training split.
    novel = data.test[data.test["service"] == "tftp_u"]
    novel = pd.concat([novel, novel.assign(service="quantum")])

    with pytest.warns(UserWarning, match=r"'service'.*'quantum', 'tftp_u'"):
        encoded = trained_only.transform(novel)

    service = trained_only.schema.groups[2]
    np.testing.assert_array_equal(encoded[:, list(service.indices)], 0.0)
    flag = trained_only.schema.groups[3]
    np.testing.assert_array_equal(encoded[:, list(flag.indices)].sum(axis=1), 1.0)


def test_recommended_preprocessor_knows_every_bundled_category(
    data: NslKdd, preprocessor: TabularPreprocessor
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        preprocessor.transform(data.test)
        preprocessor.transform(data.test_21)


def test_missing_column_raises_input_error_naming_it(
    preprocessor: TabularPreprocessor, records: pd.DataFrame
) -> None:
    with pytest.raises(InputError, match="src_bytes") as error:
        preprocessor.transform(records.drop(columns=["src_bytes"]))
    assert error.value.parameter == "frame"


def test_series_is_one_record(
    preprocessor: TabularPreprocessor, records: pd.DataFrame
) -> None:
    one = preprocessor.transform(records.iloc[5])

    assert one.shape == (1, preprocessor.n_features)
    np.testing.assert_array_equal(one, preprocessor.transform(records.iloc[5:6]))


def test_input_frame_is_not_mutated(data: NslKdd, records: pd.DataFrame) -> None:
    before = records.copy()
    features = list(data.feature_columns)

    fitted = TabularPreprocessor(
        data.categorical_columns, ["src_bytes", "dst_bytes"], columns=features
    ).fit(records, normal=~records["is_attack"].to_numpy())
    fitted.inverse_transform(fitted.transform(records))
    fitted.transform(records.iloc[0])

    pd.testing.assert_frame_equal(records, before)


def test_generic_table_with_default_columns() -> None:
    frame = pd.DataFrame(
        {"size": [0, 9, 99, 999], "colour": ["red", "blue", "red", "green"]}
    )
    fitted = TabularPreprocessor(["colour"], log_scaled=["size"]).fit(frame)

    assert fitted.feature_names == (
        "size",
        "colour=blue",
        "colour=green",
        "colour=red",
    )
    np.testing.assert_allclose(
        fitted.transform(frame)[:, 0], np.log1p([0, 9, 99, 999]) / np.log1p(999)
    )
    decoded = fitted.inverse_transform(fitted.transform(frame))
    np.testing.assert_allclose(decoded["size"], frame["size"], rtol=1e-5)


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"categorical": "colour"}, "categorical"),
        ({"categorical": ["colour"], "log_scaled": ["colour"]}, "log_scaled"),
        ({"categorical": [], "categories": {"colour": ["red"]}}, "categories"),
    ],
)
def test_bad_construction_raises_input_error(arguments: dict, parameter: str) -> None:
    with pytest.raises(InputError) as error:
        TabularPreprocessor(**arguments)
    assert error.value.parameter == parameter


@pytest.mark.parametrize(
    ("frame", "normal", "parameter"),
    [
        (pd.DataFrame({"size": [1, 2]}), [True], "normal"),
        (pd.DataFrame({"size": [1, 2]}), [0, 1], "normal"),
        (pd.DataFrame({"size": [-1, 2]}), None, "frame"),
        (pd.DataFrame({"size": [1.0, np.nan]}), None, "frame"),
        (np.zeros((2, 1)), None, "frame"),
    ],
)
def test_bad_fit_input_raises_input_error(frame, normal, parameter: str) -> None:
    with pytest.raises(InputError) as error:
        TabularPreprocessor([], log_scaled=["size"]).fit(frame, normal=normal)
    assert error.value.parameter == parameter


def test_unfitted_preprocessor_says_to_fit_first() -> None:
    with pytest.raises(InputError, match="fit"):
        TabularPreprocessor(["colour"]).transform(pd.DataFrame({"colour": ["red"]}))


def test_inverse_transform_rejects_the_wrong_width(
    preprocessor: TabularPreprocessor,
) -> None:
    with pytest.raises(InputError, match="119") as error:
        preprocessor.inverse_transform(np.zeros((2, 7)))
    assert error.value.parameter == "encoded"


def test_to_records_matches_inverse_transform() -> None:
    data = load_nsl_kdd()
    preprocessor = nsl_kdd_preprocessor(data)
    encoded = preprocessor.transform(data.test.iloc[:50])
    records = preprocessor.to_records(encoded)
    frame = preprocessor.inverse_transform(encoded)
    assert records == frame.to_dict("records")
    assert records[0]["protocol_type"] == data.test.iloc[0]["protocol_type"]
    assert records[0]["count"] == data.test.iloc[0]["count"]
