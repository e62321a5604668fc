"""Workbook exercises: ``check("<notebook>.<exercise>", answer)`` prints ✓ or ✗ with a hint.

A chapter's helper module registers its exercises with :func:`exercise`; ``check`` never raises on a
wrong or missing answer, only on an exercise name that does not exist.
"""
from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass
from numbers import Number
from typing import Any, Callable

import numpy as np

_REGISTRY: dict[str, "Exercise"] = {}


@dataclass(frozen=True)
class Exercise:
    """An exercise's expected answer (or a ``compare`` function), tolerance and hint."""

    key: str
    expected: Any
    hint: str
    rtol: float = 1e-3
    compare: Callable[[Any], bool] | None = None

    def is_correct(self, answer: Any) -> bool:
        if self.compare is not None:
            return bool(self.compare(answer))
        return answers_match(answer, self.expected, self.rtol)


def exercise(key: str, expected: Any = None, *, hint: str, rtol: float = 1e-3,
             compare: Callable[[Any], bool] | None = None) -> Exercise:
    """Register an exercise: an ``expected`` value (numbers within ``rtol``, strings case-insensitive, a tuple
    of strings for several accepted answers) or a ``compare(answer) -> bool`` function."""
    if (expected is None) == (compare is None):
        raise ValueError(f"exercise {key!r}: give exactly one of expected= or compare=.")
    _REGISTRY[key] = Exercise(key, expected, hint, rtol, compare)
    return _REGISTRY[key]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".!").casefold()


def answers_match(answer: Any, expected: Any, rtol: float = 1e-3) -> bool:
    """True when ``answer`` equals ``expected``: numbers and arrays within ``rtol``, strings ignoring case."""
    if isinstance(expected, str):
        return isinstance(answer, str) and _normalise(answer) == _normalise(expected)
    if isinstance(expected, tuple) and all(isinstance(e, str) for e in expected):
        return any(answers_match(answer, e) for e in expected)
    if isinstance(expected, Number) and not isinstance(expected, bool):
        if isinstance(answer, bool) or not isinstance(answer, (Number, np.number)):
            return False
        return math.isclose(float(answer), float(expected), rel_tol=rtol, abs_tol=1e-12)
    if isinstance(expected, (list, tuple, np.ndarray)):
        try:
            a, e = np.asarray(answer, dtype=float), np.asarray(expected, dtype=float)
        except (TypeError, ValueError):
            return False
        return a.shape == e.shape and bool(np.allclose(a, e, rtol=rtol, atol=1e-12))
    return answer == expected


def _find(key: str) -> Exercise:
    from .chapters import chapter

    if key not in _REGISTRY:
        notebook = key.rsplit(".", 1)[0]
        for module in chapter(notebook).modules:  # raises, listing notebooks, if the notebook is unknown
            importlib.import_module(f"{__package__}.{module}")
    if key not in _REGISTRY:
        valid = sorted(k for k in _REGISTRY if k.startswith(notebook + "."))
        raise ValueError(f"Unknown exercise {key!r}; exercises of {notebook}: {', '.join(valid) or 'none'}.")
    return _REGISTRY[key]


def _judge(ex: Exercise, answer: Any) -> tuple[bool, str]:
    unanswered = f"✗ {ex.key}: no answer yet — replace the TODO in the cell above. Hint: {ex.hint}"
    if answer is None or answer is Ellipsis:
        return False, unanswered
    try:
        ok = ex.is_correct(answer)
    except NotImplementedError:  # a function stub from a student copy
        return False, unanswered
    except Exception as err:  # the learner's code raised: report it, never crash the notebook
        return False, f"✗ {ex.key}: your answer raised {type(err).__name__}: {err}. Hint: {ex.hint}"
    return ok, f"✓ {ex.key}: correct!" if ok else f"✗ {ex.key}: not yet. Hint: {ex.hint}"


def check(key: str, answer: Any) -> None:
    """Print ✓ if ``answer`` solves exercise ``key`` ("<notebook>.<exercise>"), else ✗ and a hint.

    The result is also saved where a runner asked for it (``BIGMODEL_CHECKS_FILE``: grading and the tests)."""
    from .course import record_check

    ok, message = _judge(_find(key), answer)
    print(message)
    record_check(key, ok)
