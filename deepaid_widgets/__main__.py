"""``python -m deepaid_widgets``: explain a few NSL-KDD attacks, write a report.

Trains (or reuses) the bundled autoencoder detector, flags KDDTest+, explains
the first flagged record of several attack families and writes a standalone
HTML report. Everything it prints goes to stdout; the report path comes last.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from ._api import interpret
from .core.params import SearchParams
from .demo import flag_test_records, nsl_kdd_detector
from .report import write_report

#: Attack families to explain, in order of preference; absent ones are skipped.
FAMILIES = (
    "neptune",
    "guess_passwd",
    "smurf",
    "satan",
    "portsweep",
    "warezmaster",
    "back",
    "ipsweep",
    "teardrop",
    "pod",
    "nmap",
    "mscan",
    "apache2",
    "processtable",
    "saint",
    "buffer_overflow",
)

#: Short descriptions for the report headings.
DESCRIPTIONS = {
    "neptune": "SYN flood",
    "guess_passwd": "password guessing",
    "smurf": "ICMP echo flood",
    "satan": "network probe",
    "portsweep": "port scan",
    "warezmaster": "illegal FTP upload",
    "back": "web server DoS",
    "ipsweep": "host sweep",
    "teardrop": "fragment overlap DoS",
    "pod": "ping of death",
    "nmap": "network mapper scan",
}


def pick_records(labels: np.ndarray, flagged: np.ndarray, count: int) -> list[int]:
    """Indices of the first flagged record of up to ``count`` attack families.

    Families follow ``FAMILIES``; when fewer of those are flagged than
    ``count``, other flagged attack families follow in alphabetical order.
    """
    flagged_labels = {str(label) for label in labels[flagged]} - {"normal"}
    others = sorted(flagged_labels - set(FAMILIES))
    order = [family for family in FAMILIES if family in flagged_labels] + others
    return [int(np.flatnonzero(flagged & (labels == f))[0]) for f in order[:count]]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deepaid_widgets",
        description="Explain flagged NSL-KDD attacks with DeepAID and write an "
        "offline HTML report.",
    )
    parser.add_argument(
        "--records", type=_positive, default=6, help="attack families to explain"
    )
    parser.add_argument(
        "--report",
        default="reports/nsl_kdd_report.html",
        help="where to write the HTML report (default: %(default)s)",
    )
    parser.add_argument(
        "--k",
        type=_positive,
        default=SearchParams().k,
        help="at most this many changed features (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the search's start noise"
    )
    parser.add_argument(
        "--noise", type=float, default=0.0, help="start noise (0: deterministic)"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="train the detector afresh instead of reusing the cached one",
    )
    return parser


def _say(text: str = "") -> None:
    print(text)  # noqa: T201 - this module is the command line's output


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    options = _parser().parse_args(argv)

    _say("Loading the NSL-KDD detector (trains in seconds when not cached)...")
    detector = nsl_kdd_detector(cache=not options.no_cache)
    test = flag_test_records(detector)
    n_flagged = int(test.flagged.sum())
    attacks = int((test.flagged & (test.labels != "normal")).sum())
    _say(f"detector ROC AUC on KDDTest+: {test.roc_auc:.4f}")
    _say(f"threshold (reconstruction RMSE): {detector.threshold:.4g}")
    _say(
        f"flagged: {n_flagged} of {len(test.labels)} KDDTest+ records "
        f"({attacks} attacks, {n_flagged - attacks} normal)"
    )

    explanations, labels = [], []
    for index in pick_records(test.labels, test.flagged, options.records):
        family = str(test.labels[index])
        label = f"{family} ({DESCRIPTIONS.get(family, 'attack')}), KDDTest+ row {index}"
        explanation = interpret(
            detector,
            test.rows[index],
            k=options.k,
            seed=options.seed,
            noise=options.noise,
        )
        explanations.append(explanation)
        labels.append(label)
        _say()
        _say(f"== {label}")
        _say(explanation.to_text())

    met = sum(explanation.fidelity_met for explanation in explanations)
    context = {
        "detector": "autoencoder on normal NSL-KDD training records",
        "ROC AUC (KDDTest+)": f"{test.roc_auc:.4f}",
        "threshold": f"{detector.threshold:.4g}",
        "flagged (KDDTest+)": f"{n_flagged} of {len(test.labels)}",
        "K (at most)": str(options.k),
    }
    try:
        path = write_report(
            explanations,
            options.report,
            title="DeepAID explanations of NSL-KDD attacks",
            context=context,
            labels=labels,
        )
    except OSError as error:
        print(f"could not write the report: {error}", file=sys.stderr)  # noqa: T201
        return 1
    _say()
    _say(f"fidelity met for {met} of {len(explanations)} explained records")
    _say(str(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
