"""Notebook tooling: student copies for instructors, and the clean form notebooks are committed in.

Cells tagged ``solution`` hold exercise answers; a student copy replaces each with a TODO stub that keeps
the names (and function signatures) the following ``check(...)`` cell uses, so unsolved exercises print ✗.
Committed notebooks keep outputs only in cells marked ``# NBVAL_CHECK_OUTPUT``, which nbval compares.
"""
from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat

from .course import NOTEBOOK_DIR

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
STUDENT_DIR = Path("build/student")


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def solution_stub(source: str) -> str:
    """A TODO stub defining the same top-level names as a solution cell's ``source``."""
    lines = ["# TODO: your answer here (this cell was a solution; instructors: see the full notebook)"]
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            lines += [f"def {node.name}({ast.unparse(node.args)}):",
                      '    raise NotImplementedError("TODO: your code here")']
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [f"{n.id} = None" for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return "\n".join(lines) + "\n"


def student_copy(nb):
    """Return a copy of ``nb`` with every ``solution`` cell replaced by its stub."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if "solution" in tags(cell):
            cell.source = solution_stub(cell.source)
            cell.metadata["tags"] = [t for t in tags(cell) if t != "solution"] + ["student-stub"]
    return nb


def write_student_copies(out_dir: Path = STUDENT_DIR, source_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Write student copies of every notebook into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source_dir.glob("[0-9][0-9]_*.ipynb")):
        target = out_dir / path.name
        nbformat.write(student_copy(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def clean(nb):
    """Strip outputs and execution counts (except in nbval-checked cells) and run metadata, in place.

    Checked cells keep their outputs and get execution counts 1, 2, 3, …: nbval skips a cell without one.
    """
    checked = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type != "code":
            continue
        if CHECK_MARK in cell.source:
            checked += 1
        else:
            cell.outputs = []
        cell.execution_count = checked if CHECK_MARK in cell.source else None
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = cell.execution_count
    nb.metadata.pop("papermill", None)
    return nb


def normalise(path: Path) -> None:
    """Execute a notebook in fast, static mode and save it clean, keeping fresh outputs of checked cells."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ.update(BIGMODEL_FAST="1", BIGMODEL_STATIC="1")
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(clean(nb), path)
