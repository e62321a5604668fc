"""Prose that cannot contradict the output: typed numbers in Markdown that quote a metric, checked against the run.

A number in a notebook's Markdown that quotes a result of the notebook's own code carries a hidden marker right
after it, invisible in Jupyter::

    this exact recipe scores **97.32%**<!-- metric mlp_test_accuracy ±0.003 when full mnist_train_images=54000 -->

``metric NAME`` names the value that :func:`bigmodel_lessons.record_metric` records; ``±TOL`` (optional, in the
metric's units) is how far a run may land from the quote (default: the quote's own rounding, half a unit of its
last digit); ``when …`` (optional) lists the runs the quote is about: ``fast``, ``full``, or ``NAME=VALUE`` on
another recorded metric (the data tier, e.g. the number of training images). A run that matches every condition
and records a value outside the quote's tolerance is a contradiction; :func:`contradictions` lists them, and the
course runner and the test suite report them like a metric outside its range.

Numbers that depend on the learner's run are better not typed at all: :func:`bigmodel_lessons.say` renders them
from the recorded values.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

MARKER = re.compile(r"<!--\s*metric\s+(?P<body>.*?)-->", re.S)
# a number as prose writes it: 97.32%, 0.483, 1,243, −0.02, 3.1e23; optionally bold (**…**) just before the marker
NUMBER = re.compile(r"(?P<sign>[-−]?)(?P<digits>\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?)(?P<percent>\s?%)?[*_)\s]*$", re.I)
FAST_METRIC = "fast_mode"  # recorded by bml.start: 1.0 in fast mode, 0.0 in full mode


@dataclass(frozen=True)
class Claim:
    """One typed number in Markdown that quotes a metric."""

    cell: int
    quoted: str  # the number as written
    value: float  # in the metric's units (a percentage divided by 100)
    metric: str
    tolerance: float
    when: tuple[tuple[str, float], ...]  # (metric, value) conditions; fast/full become (FAST_METRIC, 1/0)

    def applies(self, metrics: dict) -> bool:
        return all(isinstance(metrics.get(name), float) and math.isclose(metrics[name], value, rel_tol=1e-9)
                   for name, value in self.when)

    def contradiction(self, metrics: dict) -> str | None:
        """A sentence saying how the run contradicts this claim, or None (agrees, or is not the claim's run)."""
        if not self.applies(metrics):
            return None
        got = metrics.get(self.metric)
        if got is None:
            return f"Markdown cell {self.cell} quotes {self.quoted} as {self.metric}, which this run did not record"
        if not (isinstance(got, float) and abs(got - self.value) <= self.tolerance):
            return (f"Markdown cell {self.cell} quotes {self.quoted} as {self.metric} (±{self.tolerance:.3g}), "
                    f"but this run recorded {got:.6g}")
        return None


def _parse_value(match: re.Match) -> tuple[float, float]:
    """The number and its default tolerance (half a unit of the last digit shown), in the metric's units."""
    digits = match["digits"].replace(",", "")
    value = float(digits) * (-1 if match["sign"] else 1)
    mantissa = digits.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half_unit = 0.5 * 10 ** -decimals * (10 ** int(digits.lower().split("e")[1]) if "e" in digits.lower() else 1)
    scale = 0.01 if match["percent"] else 1.0
    return value * scale, half_unit * scale * (1 + 1e-9)


def parse_claims(source: str, cell: int = 0) -> list[Claim]:
    """Every marked claim in one Markdown cell's source; raises ValueError on a malformed marker."""
    found = []
    for marker in MARKER.finditer(source):
        words = marker["body"].split()
        before = NUMBER.search(source[:marker.start()].rstrip())
        if not words or before is None:
            raise ValueError(f"Markdown cell {cell}: {marker.group(0)!r} must follow a number and name a metric.")
        value, tolerance = _parse_value(before)
        metric, rest, when = words[0], words[1:], []
        if rest and rest[0].startswith("±"):
            tolerance, rest = float(rest[0][1:]), rest[1:]
        if rest:
            if rest[0] != "when" or len(rest) < 2:
                raise ValueError(f"Markdown cell {cell}: expected 'when CONDITION …' in {marker.group(0)!r}.")
            for cond in rest[1:]:
                if cond in ("fast", "full"):
                    when.append((FAST_METRIC, 1.0 if cond == "fast" else 0.0))
                elif "=" in cond:
                    name, _, number = cond.partition("=")
                    when.append((name, float(number.replace(",", ""))))
                else:
                    raise ValueError(f"Markdown cell {cell}: unknown condition {cond!r} (fast, full or NAME=VALUE).")
        found.append(Claim(cell, before.group(0).strip(" *_)"), value, metric, tolerance, tuple(when)))
    return found


def notebook_claims(nb) -> list[Claim]:
    """Every marked claim in a notebook's Markdown cells (cells numbered from 0 over all cells)."""
    return [claim for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
            for claim in parse_claims(cell.source, i)]


def contradictions(nb, metrics: dict) -> list[str]:
    """What the notebook's Markdown quotes that this run's recorded ``metrics`` contradict."""
    return [text for claim in notebook_claims(nb) if (text := claim.contradiction(metrics))]
