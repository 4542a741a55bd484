"""``python -m deepaid_widgets``: explains real NSL-KDD attacks, writes the report."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from deepaid_widgets.__main__ import main, pick_records


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes |= {name for name, _ in attrs}


@pytest.fixture
def cached(kdd_detector, kdd_cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the command at the session's cache, where the detector is trained."""
    monkeypatch.setenv("DEEPAID_CACHE", kdd_cache)


@pytest.mark.usefixtures("cached")
def test_main_explains_records_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.html"

    status = main(["--records", "2", "--report", str(report)])

    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert status == 0
    assert lines[-1] == str(report.resolve())
    assert "ROC AUC" in out
    assert "threshold" in out
    assert "flagged:" in out
    assert "== neptune" in out
    assert "== guess_passwd" in out
    assert "feature" in out
    assert "contribution" in out

    raw = report.read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(raw)
    assert parser.tags.count("svg") == 2
    assert "neptune" in raw
    assert "guess_passwd" in raw
    for reference in ("<script", "src=", "href=", "http:", "https:", "url("):
        assert reference not in raw.lower()
    assert not {name for name in parser.attributes if name.startswith("on")}


@pytest.mark.usefixtures("cached")
def test_main_output_is_deterministic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for _ in range(2):
        assert main(["--records", "3", "--report", str(tmp_path / "r.html")]) == 0
        outputs.append(capsys.readouterr().out)

    assert outputs[0] == outputs[1]


@pytest.mark.usefixtures("cached")
def test_main_reports_an_unwritable_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    status = main(["--records", "1", "--report", str(blocker / "r.html")])

    assert status == 1
    assert "could not write the report" in capsys.readouterr().err


def test_pick_records_follows_the_preference_order() -> None:
    labels = np.array(
        ["normal", "smurf", "neptune", "zzz", "neptune", "guess_passwd", "aaa", "back"]
    )
    flagged = np.array([True, True, False, True, True, True, True, False])

    picked = pick_records(labels, flagged, 10)

    # neptune's first flagged record is 4 (2 is not flagged); back is never
    # flagged; families outside the list follow alphabetically.
    assert picked == [4, 5, 1, 6, 3]
    assert pick_records(labels, flagged, 2) == [4, 5]


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_records_must_be_a_positive_integer(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--records", value])

    assert exit_info.value.code == 2
    assert "--records" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deepaid_widgets", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0
    assert "--records" in result.stdout
    assert "--no-cache" in result.stdout
