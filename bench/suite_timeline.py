"""When each pytest worker ran what: the test suite's critical path, scope by scope (issue #14's 4-minute target).

Usage (from the repository root):

    PYTHONPATH=bench PYTEST_ADDOPTS="-p suite_timeline" make test   # records build/suite-timeline/<worker>.tsv
    python bench/suite_timeline.py                                  # one table per worker

As a pytest plugin it appends one line per test start and end to its worker's file (the files are removed when
a run starts). Run as a script it prints, per worker, each scope (a notebook or a test module: what
``--dist loadscope`` hands out whole) with its start and end in seconds since that worker's first test, and
the seconds the worker spent on notebooks and on everything else.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

FOLDER = Path("build/suite-timeline")


_recorder = None  # this process's worker name ("main" without xdist); None in xdist's controller


def pytest_configure(config):
    global _recorder
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:  # the controller, or a run without xdist (before any worker starts): a fresh record
        FOLDER.mkdir(parents=True, exist_ok=True)
        for path in FOLDER.glob("*.tsv"):
            path.unlink()
    if worker or getattr(config.option, "dist", "no") == "no":
        _recorder = worker or "main"


def _record(event: str, nodeid: str) -> None:
    if _recorder:
        with open(FOLDER / f"{_recorder}.tsv", "a", encoding="utf-8") as f:
            f.write(f"{time.time():.2f}\t{event}\t{nodeid}\n")


def pytest_runtest_logstart(nodeid, location):
    _record("start", nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _record("end", nodeid)


def scopes(path: Path) -> list[tuple[str, float, float]]:
    """``(scope, start, end)`` in the order the worker ran them, seconds since its first test started."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    t0 = float(rows[0][0])
    spans: dict[str, list[float]] = {}
    for stamp, _, nodeid in rows:
        span = spans.setdefault(nodeid.rsplit("::", 1)[0], [float(stamp) - t0] * 2)
        span[1] = float(stamp) - t0
    return [(scope, start, end) for scope, (start, end) in spans.items()]


def main() -> None:
    files = sorted(FOLDER.glob("*.tsv"))
    if not files:
        raise SystemExit(f"No timeline in {FOLDER}/: run the suite with "
                         'PYTHONPATH=bench PYTEST_ADDOPTS="-p suite_timeline" make test first.')
    for path in files:
        print(f"{path.stem}:   start     end  seconds  scope")
        spent = {"notebooks": 0.0, "other": 0.0}
        for scope, start, end in scopes(path):
            print(f"{'':>4}{start:8.1f}{end:8.1f}{end - start:9.1f}  {scope}")
            spent["notebooks" if scope.endswith(".ipynb") else "other"] += end - start
        print(f"    notebooks {spent['notebooks']:.1f} s, other tests {spent['other']:.1f} s\n")


if __name__ == "__main__":
    main()
