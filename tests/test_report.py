"""The offline HTML report: self-contained, complete, and safe with hostile text."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from deepaid_widgets import (
    AutoencoderDetector,
    Explanation,
    FeatureGroup,
    InputError,
    TabularSchema,
    interpret,
)
from deepaid_widgets.report import write_report

IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
SCRIPT = "</title><script>alert(3)</script>"
CATEGORY = "<img src=y onerror=alert(2)>"
QUOTE = "x' onmouseover='alert(4)"


class Elements(HTMLParser):
    """Every start tag with its attributes, and all text, as a browser sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


@pytest.fixture(scope="module")
def hostile() -> tuple[AutoencoderDetector, np.ndarray, np.ndarray]:
    """A tiny detector whose feature names and category are markup."""
    names = (IMG, SVG, "plain", "proto=tcp", f"proto={CATEGORY}")
    groups = (
        FeatureGroup(IMG, (0,)),
        FeatureGroup(SVG, (1,)),
        FeatureGroup("plain", (2,)),
        FeatureGroup(SCRIPT, (3, 4), ("tcp", CATEGORY)),
    )
    rng = np.random.default_rng(0)
    normal = np.zeros((600, 5), dtype=np.float32)
    normal[:, :3] = rng.normal(0.5, 0.05, size=(600, 3))
    normal[:, 3] = 1.0
    detector = AutoencoderDetector.fit(
        normal, schema=TabularSchema(names, groups), epochs=5, seed=0
    )
    anomaly = np.array([3.0, -2.0, 0.5, 0.0, 1.0], dtype=np.float32)
    return detector, anomaly, normal[0]


@pytest.fixture(scope="module")
def explanations(hostile) -> list[Explanation]:
    detector, anomaly, normal_row = hostile
    return [interpret(detector, anomaly, k=4), interpret(detector, normal_row)]


def test_hostile_strings_are_shown_as_text_never_as_markup(
    explanations: list[Explanation], tmp_path: Path
) -> None:
    assert explanations[0].changes, "the tiny detector's anomaly needs a change"
    path = write_report(
        explanations,
        tmp_path / "hostile.html",
        title=SCRIPT,
        context={IMG: SVG},
        labels=[SVG + QUOTE, IMG],
    )

    page = parse(path)
    tags = [tag for tag, _ in page.tags]
    attributes = {name for _, attrs in page.tags for name in attrs}
    assert "img" not in tags
    assert "script" not in tags
    assert tags.count("svg") == 1
    assert not {name for name in attributes if name.startswith("on")}
    assert "src" not in attributes
    text = "".join(page.text)
    changed = {change.name for change in explanations[0].changes}
    for shown in {IMG, SVG, SCRIPT, SVG + QUOTE} | changed:
        assert shown in text


def test_hostile_category_is_escaped(
    explanations: list[Explanation], tmp_path: Path
) -> None:
    values = [
        value
        for change in explanations[0].changes
        for value in (change.anomaly_value, change.reference_value)
    ]
    path = write_report(explanations, tmp_path / "r.html", title="t")

    assert CATEGORY in values
    assert CATEGORY in "".join(parse(path).text)
    assert "img" not in [tag for tag, _ in parse(path).tags]


def test_report_references_nothing_outside_itself(
    explanations: list[Explanation], tmp_path: Path
) -> None:
    path = write_report(explanations, tmp_path / "r.html", title="t", labels=["a", "b"])

    raw = path.read_text(encoding="utf-8").lower()
    for reference in ("<script", "http:", "https:", "//", "url(", "@import"):
        assert reference not in raw
    assert "default-src 'none'" in raw
    attributes = {name for _, attrs in parse(path).tags for name in attrs}
    assert not attributes & {"src", "href", "xlink:href", "srcset", "action"}


def test_report_shows_each_explanations_numbers(
    explanations: list[Explanation], tmp_path: Path
) -> None:
    path = write_report(explanations, tmp_path / "r.html", title="numbers")

    raw = path.read_text(encoding="utf-8")
    text = "".join(parse(path).text)
    for explanation in explanations:
        for number in (
            explanation.anomaly_score,
            explanation.reference_score,
            explanation.threshold,
            explanation.threshold - explanation.eps,
        ):
            assert f"{number:.4g}" in text
        for change in explanation.changes:
            assert f"{change.contribution:+.4g}" in text
    assert raw.count("<svg") == sum(bool(e.changes) for e in explanations)
    assert "not anomalous" in text
    assert "fidelity met" in text


def test_chart_draws_two_bars_per_change_in_contribution_order(
    explanations: list[Explanation], tmp_path: Path
) -> None:
    path = write_report(explanations[:1], tmp_path / "r.html", title="t")

    page = parse(path)
    bars = [attrs for tag, attrs in page.tags if tag == "rect"]
    changes = explanations[0].changes
    assert len(bars) == 2 + 2 * len(changes)  # the legend's two swatches first
    contributions = [change.contribution for change in changes]
    assert contributions == sorted(contributions, reverse=True)


def test_write_report_creates_folders_and_returns_absolute_path(
    explanations: list[Explanation], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    path = write_report(explanations, Path("deep/er/r.html"), title="t")

    assert path.is_absolute()
    assert path == (tmp_path / "deep/er/r.html").resolve()
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_labels_must_match_the_explanations(
    explanations: list[Explanation], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="labels"):
        write_report(explanations, tmp_path / "r.html", title="t", labels=["one"])
    with pytest.raises(InputError, match=r"explanations\[1\]"):
        write_report([explanations[0], "x"], tmp_path / "r.html", title="t")
    assert not (tmp_path / "r.html").exists()
