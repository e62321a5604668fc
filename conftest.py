"""Test-wide settings, and the one execution of each notebook that all of its checks share.

nbval runs every notebook in ``notebooks/`` once, cell by cell, comparing ``# NBVAL_CHECK_OUTPUT`` cells with
their stored outputs. This plugin adds, after the last cell, one more item per notebook ("course checks")
that judges the same run: the metrics it recorded against ``chapters.py`` ``expect`` and against the numbers its
Markdown quotes (``bigmodel_lessons/prose.py``), no stderr output in any chapter, the kernel's peak memory
(sampled with psutil) against the limit, naming the cell that ran at the peak, and a ✓ for every exercise. It
also saves the executed notebook, figures included, to ``build/executed/`` for the course website.
``pytest notebooks/NN_x.ipynb`` gets all of it.

The same run executes the chapter's student copy: before each solution cell, one more item ("student stub")
runs, in the same kernel, the TODO stub and the check cell that the learner's workbook holds in its place, and
wants one ✗ line with a hint. The rest of a student copy is the answer key's own code, which runs anyway;
``notebooks.workbook_problems`` (tested for every chapter) keeps it that way: no cell but a solution's check
reads what the solution defines.

With pytest-xdist (``make test`` runs ``-n 2 --dist loadscope``) a notebook's cells and its checks stay on one
worker, in order (one scope); notebooks run in parallel, the latest chapters first, then the rest.
(``--dist loadgroup`` would be finer, but xdist 3.8 cannot rename node ids on pytest 9.)
"""
import copy
import json
import os
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

os.environ.setdefault("BIGMODEL_FAST", "1")  # notebook kernels inherit these
os.environ["BIGMODEL_STATIC"] = "1"
os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # as the course kernel sets it (Makefile): nbval starts its own

from bigmodel_lessons.chapters import Chapter, chapter  # noqa: E402
from bigmodel_lessons.course import CHECKS_ENV, METRICS_ENV, PeakMemory, cell_running_at, problems  # noqa: E402
from bigmodel_lessons.notebooks import exercise_keys, stderr_outputs, stub_runs  # noqa: E402
from bigmodel_lessons.prose import contradictions  # noqa: E402

try:
    from nbval.plugin import IPyNbCell, IPyNbFile
except ImportError:  # nbval missing: notebooks are not collected at all
    IPyNbCell = IPyNbFile = None

EXECUTED = "build/executed"
QUIET_CHAPTERS = set(range(0, 11)) | {99}  # every chapter: nothing on stderr (issue #19)
STEM = re.compile(r"(\d\d)_\w+")


def _chapter_or_none(stem: str):
    try:
        return chapter(stem)
    except ValueError:  # a notebook not (yet) in the registry: memory and exercises are still checked
        return None


class NotebookChecks(pytest.Item):
    """Judges the nbval run of one notebook after its last cell, and saves the executed notebook."""

    def __init__(self, *, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = cells

    def _executed_notebook(self):
        nb = copy.deepcopy(self.parent.nb)
        ran = {item.cell_num: item.test_outputs for item in self.cells if item.test_outputs is not None}
        started = getattr(self.parent, "bml_started", {})
        for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            cell.outputs = [nbformat.from_dict(o) for o in ran.get(i, [])]
            cell.execution_count = i + 1 if i in ran else None
            if i in started:  # when it ran, as nbclient records it (course.cell_running_at reads it)
                cell.metadata["execution"] = {"iopub.execute_input": started[i]}
            for out in cell.outputs:
                if out.output_type == "execute_result":
                    out.execution_count = cell.execution_count
        return nb

    def runtest(self):
        nbfile = self.parent
        memory = getattr(nbfile, "bml_memory", None)
        peak_mb = memory.stop() if memory else float("nan")
        nb = self._executed_notebook()
        peak_cell = cell_running_at(nb, memory.peak_time) if memory else ""
        self.user_properties += [("peak_memory_mb", peak_mb), ("peak_cell", peak_cell)]
        out_dir = Path(nbfile.config.rootpath, EXECUTED)
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / nbfile.path.name)
        metrics_file, checks_file = _run_files(nbfile)
        read = lambda path: json.loads(path.read_text()) if path.exists() else {}  # noqa: E731
        metrics = read(metrics_file)
        ch = _chapter_or_none(nbfile.path.stem)
        found = problems(ch, metrics, peak_mb, peak_cell) + contradictions(nbfile.nb, metrics)
        if ch is not None and ch.number in QUIET_CHAPTERS:
            found += stderr_outputs(nb)
        checks, keys = read(checks_file), exercise_keys(nbfile.nb)
        for key in keys:
            if checks.get(key) is not True:
                found.append(f"exercise {key}: {'✗' if key in checks else 'never checked'} in the answer key")
        marks = _printed(nb)
        if marks.count("✓") != len(keys) or "✗" in marks:  # the workbook shows the same, but its checks' ✗
            found.append(f"the outputs hold {marks.count('✓')} ✓ and {marks.count('✗')} ✗ for {len(keys)} "
                         "exercises: only a check may print either")
        if found:
            raise NotebookProblem("\n".join(found))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotebookProblem):
            return f"{self.parent.path.name}:\n{excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.parent.path.name}::course checks"


class NotebookProblem(AssertionError):
    pass


if IPyNbCell is not None:
    class StudentStub(IPyNbCell):
        """A solution's stub and the check below it, as the student copy holds them, run in the notebook's kernel
        just before the solution: the check must print one ✗ line with a hint (then the solution redefines the
        names)."""

        def __init__(self, *, key, **kwargs):
            super().__init__(**kwargs)
            self.key = key

        def runtest(self):
            super().runtest()  # fails on an exception, as any cell does
            printed = "".join(o.get("text", "") for o in self.test_outputs if o.get("name") == "stdout").strip()
            if "\n" in printed or not (printed.startswith(f"✗ {self.key}: no answer yet") and "Hint:" in printed):
                raise NotebookProblem(f"{self.parent.path.name}: the student copy's check of {self.key} should "
                                      f"print one ✗ line with a hint; it printed:\n{printed}")

        def repr_failure(self, excinfo, style=None):
            if isinstance(excinfo.value, NotebookProblem):
                return str(excinfo.value)
            return super().repr_failure(excinfo)

        def reportinfo(self):
            return self.path, None, f"{self.parent.path.name}::{self.name}"


def _printed(nb) -> str:
    """Everything a notebook's code cells showed, as text."""
    return "".join(str(out.get("text", "")) + str(out.get("data", {})) for c in nb.cells if c.cell_type == "code"
                   for out in c.get("outputs", []))


def _run_files(nbfile) -> tuple[Path, Path]:
    out_dir = Path(nbfile.config.rootpath, EXECUTED)
    stem = nbfile.path.stem
    return out_dir / f"{stem}.metrics.json", out_dir / f"{stem}.checks.json"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Before a notebook's kernel starts: point its metrics and checks at fresh files; after: watch its memory."""
    nbfile = item.parent
    if IPyNbFile is None or not isinstance(nbfile, IPyNbFile) or nbfile.kernel is not None:
        return (yield)
    files = _run_files(nbfile)
    files[0].parent.mkdir(parents=True, exist_ok=True)
    for path in files:
        path.unlink(missing_ok=True)
    saved = {name: os.environ.get(name) for name in (METRICS_ENV, CHECKS_ENV)}
    os.environ.update({METRICS_ENV: str(files[0]), CHECKS_ENV: str(files[1])})
    try:
        result = yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    if nbfile.kernel is not None and not hasattr(nbfile, "bml_memory"):
        nbfile.bml_memory = PeakMemory(nbfile.kernel.km.provisioner.pid).start()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Note when each notebook cell starts (not the student stubs run before some): the course checks name the
    cell that ran at the kernel's memory peak."""
    if IPyNbCell is not None and isinstance(item, IPyNbCell) and not isinstance(item, StudentStub):
        if not hasattr(item.parent, "bml_started"):
            item.parent.bml_started = {}
        item.parent.bml_started[item.cell_num] = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return (yield)


def _order(item) -> tuple:
    """Notebooks first, the latest (heaviest) chapters first; then tests parametrized by a chapter (``ch``),
    likewise; then everything else. xdist hands out scopes in this order."""
    if IPyNbFile is not None and isinstance(item.parent, IPyNbFile):
        match = STEM.match(item.parent.path.name)
        return (0, -int(match.group(1)) if match else 0)
    ch = getattr(item, "callspec", None) and item.callspec.params.get("ch")
    if isinstance(ch, Chapter):
        return (1, -ch.number)
    return (2, 0)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    if IPyNbFile is None:
        return
    by_file = {}
    for item in items:
        if isinstance(item, IPyNbCell):
            by_file.setdefault(item.parent, []).append(item)
    for nbfile, cells in by_file.items():
        items.insert(items.index(cells[-1]) + 1, NotebookChecks.from_parent(nbfile, name="course checks", cells=cells))
        stubs = stub_runs(nbfile.nb)
        for cell in cells:
            if cell.cell.get("id") in stubs:
                key, source = stubs[cell.cell.id]
                stub = StudentStub.from_parent(nbfile, name=f"{cell.name} student stub", key=key,
                                               cell_num=cell.cell_num, cell=nbformat.v4.new_code_cell(source),
                                               options=defaultdict(bool))
                items.insert(items.index(cell), stub)
    items.sort(key=_order)  # stable: cells keep their order


def pytest_terminal_summary(terminalreporter):
    """One line per executed notebook: its kernel's peak memory against the limit (xdist passes it back)."""
    peaks = {report.nodeid.split("::")[0]: dict(report.user_properties)
             for report in terminalreporter.getreports("passed") + terminalreporter.getreports("failed")
             if report.when == "call" and "peak_memory_mb" in dict(report.user_properties)}
    if peaks:
        terminalreporter.section("notebook peak memory (MB), and the cell that ran at the peak")
        for nodeid, found in sorted(peaks.items()):
            terminalreporter.write_line(f"{found['peak_memory_mb']:7.0f}  {nodeid}  {found['peak_cell']}")
