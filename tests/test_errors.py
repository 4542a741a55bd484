"""Bad input gets a clear error naming the parameter; nothing is mutated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepaid_widgets import InputError, SearchParams, explain, interpret

D = 6


class Reconstructor(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(D, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Raises(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom inside the detector")


class WrongShape(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :2]


def good_x() -> np.ndarray:
    return np.full(D, 5.0)


BAD_X = {
    "nan": np.array([1.0, np.nan, 0, 0, 0, 0]),
    "inf": np.array([1.0, np.inf, 0, 0, 0, 0]),
    "wrong length": np.zeros(D + 1),
    "two rows": np.zeros((2, D)),
    "rank 3": np.zeros((1, 2, D)),
    "strings": np.array(["a"] * D),
    "a string": "0,0,0,0,0,0",
    "empty": np.array([]),
}


@pytest.mark.parametrize("case", BAD_X)
def test_bad_x_names_x_and_mutates_nothing(case: str) -> None:
    x = BAD_X[case]
    before = x.copy() if isinstance(x, np.ndarray) else x
    with pytest.raises(InputError) as caught:
        interpret(Reconstructor(), x, threshold=0.1)
    message = str(caught.value)
    assert message.startswith("x: expected ")
    assert ", got " in message
    assert caught.value.fix
    if isinstance(x, np.ndarray):
        np.testing.assert_array_equal(x, before)


BAD_THRESHOLDS = {
    "missing": None,
    "nan": float("nan"),
    "negative": -0.5,
    "zero": 0.0,
    "string": "0.1",
    "inf": float("inf"),
}


@pytest.mark.parametrize("case", BAD_THRESHOLDS)
def test_bad_threshold_is_named(case: str) -> None:
    with pytest.raises(InputError, match=r"^threshold: expected .*, got "):
        interpret(Reconstructor(), good_x(), threshold=BAD_THRESHOLDS[case])


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (Raises(), "raised RuntimeError: boom inside the detector"),
        (WrongShape(), "output of shape (1, 2)"),
        (lambda x: x, "got function"),
    ],
)
def test_bad_model_is_named_with_what_happened(model: object, words: str) -> None:
    with pytest.raises(InputError) as caught:
        interpret(model, good_x(), threshold=0.1)
    assert str(caught.value).startswith("model: expected ")
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"k": 0}, "k"),
        ({"k": 2.5}, "k"),
        ({"k": True}, "k"),
        ({"stability_weight": -1.0}, "stability_weight"),
        ({"eps": float("nan")}, "eps"),
        ({"max_steps": -1}, "max_steps"),
        ({"noise": float("inf")}, "noise"),
        ({"seed": -3}, "seed"),
        ({"locked": "x0"}, "locked"),
        ({"locked": ["no such feature"]}, "locked"),
        ({"bounds": (1.0, 0.0)}, "bounds"),
        ({"bounds": 3.0}, "bounds"),
        ({"normal": np.zeros((4, D + 2))}, "normal"),
        ({"normal": np.full((4, D), np.nan)}, "normal"),
    ],
)
def test_bad_options_are_named(options: dict, parameter: str) -> None:
    options = {"threshold": 0.1} | options
    with pytest.raises(InputError) as caught:
        interpret(Reconstructor(), good_x(), **options)
    assert caught.value.parameter == parameter
    assert str(caught.value).startswith(f"{parameter}: expected ")


def test_explain_checks_input_before_building_a_panel() -> None:
    with pytest.raises(InputError, match=r"^x: "):
        explain(Reconstructor(), np.zeros(D + 3), threshold=0.1)


def test_search_params_reject_bad_values_directly() -> None:
    with pytest.raises(InputError, match=r"^k: expected an integer >= 1, got int 0"):
        SearchParams(k=0)


def test_a_detector_refuses_names_of_its_own() -> None:
    from deepaid_widgets import AutoencoderDetector

    rng = np.random.default_rng(0)
    detector = AutoencoderDetector.fit(rng.normal(size=(200, D)), epochs=1)
    with pytest.raises(InputError, match=r"^feature_names: expected nothing"):
        interpret(detector, good_x(), feature_names=list("abcdef"))


@pytest.mark.parametrize(
    ("options", "parameter", "words"),
    [
        ({"eps": 0.2}, "eps", "a margin below the threshold"),
        ({"locked": "x2"}, "locked", "locked=['x2']"),
        ({"seed": 2**64}, "seed", "[0, 4294967295]"),
        ({"bounds": (np.zeros(3), 1.0)}, "bounds", "shape (6,)"),
        ({"bounds": ("low", "high")}, "bounds", "a number or an array"),
        (
            {
                "normal": np.random.default_rng(0).normal(size=(20, D)),
                "percentile": "99",
                "threshold": None,
            },
            "percentile",
            "a number in (0, 100)",
        ),
        ({"feature_names": list("abc")}, "feature_names", "one name per feature"),
        ({"feature_names": "abcdef"}, "feature_names", "a sequence of strings"),
        ({"feature_names": list("aabcde")}, "feature_names", "unique names"),
    ],
)
def test_more_bad_options_are_named(options: dict, parameter: str, words: str) -> None:
    options = {"threshold": 0.1} | options
    with pytest.raises(InputError) as caught:
        interpret(Reconstructor(), good_x(), **options)
    assert caught.value.parameter == parameter
    assert words in str(caught.value)


def test_unusual_but_valid_inputs_are_accepted() -> None:
    model = Reconstructor()
    as_bf16 = torch.full((D,), 5.0, dtype=torch.bfloat16)
    result = interpret(model, as_bf16, threshold=np.float32(0.1), k=np.int64(2))
    assert result.params.k == 2
    assert isinstance(result.params.k, int)


@pytest.mark.parametrize(
    ("model", "x", "parameter"),
    [
        (torch.jit.script(Reconstructor()), good_x(), "model"),
        (Reconstructor().to("meta"), good_x(), "model"),
        (Reconstructor(), torch.empty(D, device="meta"), "x"),
    ],
)
def test_models_and_tensors_without_data_are_named(model, x, parameter: str) -> None:
    with pytest.raises(InputError) as caught:
        interpret(model, x, threshold=0.1)
    assert caught.value.parameter == parameter


class SingleRowOnly(Reconstructor):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != 1:
            raise RuntimeError("batch size must be 1")
        return self.linear(x)


def test_a_model_that_fails_on_batches_gets_a_clear_model_error() -> None:
    from deepaid_widgets._errors import ModelError

    with pytest.raises(ModelError, match="must accept any batch size"):
        interpret(SingleRowOnly(), good_x(), threshold=0.1)


def test_a_raising_model_is_named_before_calibrating_on_normal_rows() -> None:
    normal = np.random.default_rng(0).normal(size=(30, D))
    with pytest.raises(InputError, match=r"raised RuntimeError: boom inside"):
        interpret(Raises(), good_x(), normal=normal)
