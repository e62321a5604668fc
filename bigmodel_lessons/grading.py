"""Grading for a workshop: run every submitted notebook, collect its ``check`` results, write one table.

``bigmodel-lessons grade SUBMISSIONS_DIR`` executes each notebook found in the folder (sub-folders included)
in fast mode, in its own process and kernel, with a time limit, and writes ``build/grades/grades.csv`` and
``grades.md``: one row per submission, one column per exercise (✓ solved, ✗ not solved, empty: not in that
notebook), the number solved, and the reason when a submission did not run cleanly (not a notebook, corrupt,
timed out, raised). One bad submission is one row; grading goes on. Submissions are read, never modified:
each runs as a copy under ``build/grades/executed/``, where the instructor can read its outputs.

Learners' notebooks are untrusted code. The isolation is what a Jupyter kernel gives — a separate process
under your user account, a time limit — and nothing more: grade on a machine or account you can afford to
lend to 30 strangers' code.
"""
from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import execute
from .notebooks import exercise_keys

GRADES_DIR = Path("build/grades")
GRADE_TIMEOUT_S = 600


@dataclass
class Grade:
    submission: str
    exercises: list[str] = field(default_factory=list)  # the exercises this notebook checks, in order
    checks: dict[str, bool] = field(default_factory=dict)
    reason: str = ""  # empty when the notebook ran to the end without an error

    @property
    def solved(self) -> int:
        return sum(self.checks.get(key) is True for key in self.exercises)


KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"  # nbclient's words: not the submission's fault


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no error message"


def grade_notebook(path: Path, name: str, out_dir: Path, timeout: float) -> Grade:
    """Grade one submission: read it (never written to), execute a copy, collect its checks."""
    if path.suffix != ".ipynb":
        return Grade(name, reason=f"not a notebook (expected a .ipynb file, got {path.suffix or 'no extension'})")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # any parse or schema error: a corrupt file, reported, never fatal
        return Grade(name, reason=f"corrupt notebook ({type(err).__name__}: {_last_line(str(err))})")
    grade = Grade(name, exercise_keys(nb))
    copy = out_dir / "submitted" / name
    copy.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, copy)
    for _ in range(2):  # a kernel that dies while starting ran none of the submission's code: start it once more
        result = execute(copy, out_dir / "executed" / name, fast=True, timeout=timeout, allow_errors=True)
        if KERNEL_START_FAILURE not in result.error:
            break
    grade.checks = result.checks
    if result.status == "timeout":
        grade.reason = f"timed out after {timeout:g} s (checks until then are counted)"
    elif KERNEL_START_FAILURE in result.error:
        grade.reason = "its kernel died while starting, twice, before running any cell: grade it again"
    elif result.status != "ok":
        grade.reason = f"raised {_last_line(result.error)} (the other cells still ran)"
    return grade


def submissions(folder: Path) -> list[Path]:
    """Every file in ``folder`` and its sub-folders, except hidden ones (``.ipynb_checkpoints``, ``.DS_Store``)."""
    if not folder.is_dir():
        raise ValueError(f"Submissions folder {folder} does not exist or is not a folder.")
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def columns(grades: list[Grade]) -> list[str]:
    """Every exercise any submission checks, chapter by chapter, in notebook order."""
    keys = []
    for g in grades:
        keys += [k for k in g.exercises if k not in keys]
    return sorted(keys, key=lambda k: k.rsplit(".", 1)[0])  # stable: notebook order within a chapter


def table(grades: list[Grade]) -> list[list[str]]:
    """Header, one row per submission, and a last row with how many submissions solved each exercise."""
    keys = columns(grades)
    rows = [["submission", *keys, "solved", "of", "reason"]]
    for g in grades:
        marks = ["✓" if g.checks.get(k) is True else "✗" if k in g.exercises else "" for k in keys]
        rows.append([g.submission, *marks, str(g.solved), str(len(g.exercises)), g.reason])
    rows.append(["solved by", *[str(sum(g.checks.get(k) is True for g in grades)) for k in keys],
                 str(sum(g.solved for g in grades)), str(sum(len(g.exercises) for g in grades)),
                 f"{len(grades)} submissions"])
    return rows


def markdown(rows: list[list[str]]) -> str:
    escape = lambda text: text.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines) + "\n"


def grade(folder: Path, out_dir: Path = GRADES_DIR, timeout: float = GRADE_TIMEOUT_S, jobs: int = 1) -> list[Grade]:
    """Grade every submission in ``folder``; write ``grades.csv`` and ``grades.md`` into ``out_dir``."""
    paths = submissions(Path(folder))
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [p.relative_to(folder).as_posix() for p in paths]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each job is its own process and kernel
        grades = list(pool.map(lambda pn: grade_notebook(pn[0], pn[1], out_dir, timeout), zip(paths, names)))
    rows = table(grades)
    with open(out_dir / "grades.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    (out_dir / "grades.md").write_text(markdown(rows), encoding="utf-8")
    return grades
