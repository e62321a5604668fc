"""Notebook tooling: student copies for instructors, and the clean form notebooks are committed in.

Cells tagged ``solution`` hold exercise answers; a student copy (the learner's workbook) replaces each with a
TODO stub that keeps the names (and function signatures) the following ``check(...)`` cell uses, so unsolved
exercises print ✗, and puts the answer in a collapsed "Show the solution" block under the stub: one click
reveals one solution. Committed notebooks keep outputs only in cells marked ``# NBVAL_CHECK_OUTPUT``, which
nbval compares.
"""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat

from .course import NOTEBOOK_DIR

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
STUDENT_DIR = Path("build/student")
WORKBOOK_DIR = Path("workbook")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.]+)["']""")


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def solution_stub(source: str) -> str:
    """A TODO stub defining the same top-level names as a solution cell's ``source``."""
    lines = ["# TODO: your answer here (stuck? open \"Show the solution\" just below this cell)"]
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            lines += [f"def {node.name}({ast.unparse(node.args)}):",
                      '    raise NotImplementedError("TODO: your code here")']
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [f"{n.id} = None" for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return "\n".join(lines) + "\n"


QUIET_OK_TAG = "stderr-expected"  # a cell whose stderr output is deliberate (the lesson is the warning)


def stderr_outputs(nb) -> list[str]:
    """The stderr streams of an executed notebook (download retries, third-party warnings, TensorFlow notices),
    one line each, except in cells tagged ``stderr-expected``. A learner should see the lesson, not machinery."""
    found = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        if QUIET_OK_TAG in tags(cell):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and out.get("text", "").strip():
                found.append(f"code cell {i} writes to stderr: {out['text'].strip().splitlines()[0][:160]}")
    return found


def exercise_keys(nb) -> list[str]:
    """The exercise keys a notebook checks, in order (``bml.check("<key>", ...)`` calls in its code cells)."""
    keys = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            keys += [k for k in CHECK_CALL.findall(cell.source) if k not in keys]
    return keys


def solution_reveal(source: str, cell_id: str):
    """A markdown cell holding a solution, collapsed until the learner opens it. A fixed ``cell_id`` (not a random
    one) makes the same notebook give the same workbook file, byte for byte: ``lab`` compares them by hash."""
    text = f"<details><summary>Show the solution</summary>\n\n```python\n{source.strip()}\n```\n\n</details>"
    return nbformat.v4.new_markdown_cell(text, id=cell_id, metadata={"tags": ["solution-reveal"]})


def student_copy(nb):
    """Return the workbook form of ``nb``: each ``solution`` cell becomes its stub followed by a collapsed
    solution; no outputs, no nbval markers, no widget state."""
    nb = nbformat.from_dict(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.source = "\n".join(l for l in cell.source.splitlines() if l.strip() != CHECK_MARK)
        cells.append(cell)
        if "solution" in tags(cell):
            cells.append(solution_reveal(cell.source, f"{cell.id}-solution"))
            cell.source = solution_stub(cell.source)
            cell.metadata["tags"] = [t for t in tags(cell) if t != "solution"] + ["student-stub"]
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def stub_runs(nb) -> dict[str, tuple[str, str]]:
    """For each solution cell's id: its exercise key, and the code a learner's unsolved workbook runs in its place
    (the stub and the check cell below it, as ``student_copy`` writes them). The tests run this code in the answer
    key's kernel just before the solution, so one execution of a chapter checks both."""
    cells = student_copy(nb).cells
    runs = {}
    for i, cell in enumerate(cells):
        if "student-stub" in tags(cell):
            check = next((c for c in cells[i + 1:] if c.cell_type == "code"), None)
            found = CHECK_CALL.search(check.source) if check is not None else None
            if found is None:
                raise ValueError(f"solution cell {cell.id}: the code cell below it must call bml.check(...)")
            runs[cell.id] = (found.group(1), f"{cell.source}\n{check.source}")
    return runs


def _bound_names(source: str) -> set[str]:
    """The names a cell binds at top level (assignments, definitions, imports, loop targets), never ``_``."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names - {"_"}


def _read_names(source: str) -> set[str]:
    from IPython.core.inputtransformer2 import TransformerManager  # cells may hold %magics and !commands

    tree = ast.parse(TransformerManager().transform_cell(source))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def workbook_problems(nb) -> list[str]:
    """Why ``nb``'s student copy might not run like its answer key, one line each (none: it will).

    A student copy is the answer key with each solution replaced by a stub. The rest of it is the same program
    when every solution is checked by the code cell right below it, and no other cell reads a name a solution
    binds (or calls ``check``): then running each stub and its check before the solution, in the answer key's
    kernel, executes the student copy too."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    solutions = [i for i, c in enumerate(code) if "solution" in tags(c)]
    checks = {i + 1 for i in solutions}
    reads = [_read_names(c.source) for c in code]
    found = []
    for i in solutions:
        if i + 1 >= len(code) or not CHECK_CALL.search(code[i + 1].source):
            found.append(f"code cell {i}: a solution without a bml.check(...) cell right below it")
        bound = _bound_names(code[i].source)
        for j in range(i + 2, len(code)):
            read = sorted(bound & reads[j])
            if read:
                found.append(f"code cell {j} reads {', '.join(read)}, which solution cell {i} defines: "
                             f"in the student copy it is a TODO stub")
    for j, cell in enumerate(code):
        if j not in checks and CHECK_CALL.search(cell.source):
            found.append(f"code cell {j} calls bml.check(...) but no solution cell is right above it")
    return found


def write_student_copies(out_dir: Path = STUDENT_DIR, source_dir: Path = NOTEBOOK_DIR,
                         keep_existing: bool = False) -> list[Path]:
    """Write student copies of every notebook into ``out_dir``; return the paths written.

    ``keep_existing`` leaves notebooks already there untouched (a learner's work in the workbook)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source_dir.glob("[0-9][0-9]_*.ipynb")):
        target = out_dir / path.name
        if keep_existing and target.exists():
            continue
        nbformat.write(student_copy(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def clean(nb):
    """Strip outputs and execution counts (except in nbval-checked cells), run metadata and widget state, in place.

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
    nb.metadata.pop("widgets", None)  # widget state saved by JupyterLab
    return nb


def normalise(path: Path) -> None:
    """Execute a notebook in fast, static mode and save it clean, keeping fresh outputs of checked cells."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ.update(BIGMODEL_FAST="1", BIGMODEL_STATIC="1")
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(clean(nb), path)
