"""Run the course headless: every notebook through papermill, with its recorded metrics in one table.

Notebooks call :func:`record_metric` for their key results, and ``check`` calls :func:`record_check`; the
runner points ``BIGMODEL_METRICS_FILE`` and ``BIGMODEL_CHECKS_FILE`` at JSON files beside each executed
notebook, and the kernel writes them. :func:`problems` judges one run against the chapter's ``expect`` ranges
and the memory limit; ``make course`` and the test suite share it.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

from .chapters import Chapter, chapter, ready_chapters

METRICS_ENV = "BIGMODEL_METRICS_FILE"
CHECKS_ENV = "BIGMODEL_CHECKS_FILE"
PACKAGE_DIR = Path(__file__).resolve().parent


def _notebook_dir() -> Path:
    """The answer-key notebooks: package data in an installed wheel, ``notebooks/`` in a clone (editable install)."""
    packaged = PACKAGE_DIR / "course_notebooks"  # pyproject.toml maps notebooks/*.ipynb here when building
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "notebooks"


NOTEBOOK_DIR = _notebook_dir()
OUT_DIR = Path("build/executed")
NOTEBOOK_TIMEOUT_S = {True: 900, False: 3 * 3600}  # fast mode, full mode; no limit per cell (one core: 09 §3 > 30 min)
PEAK_MEMORY_MB = 1500  # Binder gives 2 GB


def _update_json(path: str | None, key: str, value) -> None:
    if path:
        data = json.loads(Path(path).read_text()) if Path(path).exists() else {}
        data[key] = value
        Path(path).write_text(json.dumps(data, indent=2, sort_keys=True))


RECORDED: dict[str, float] = {}  # this kernel's metrics, for :func:`say`


def record_metric(name: str, value: float) -> None:
    """Record a notebook's key result for :func:`say`, ``make course`` and the tests.

    Silent in a learner's kernel; where a runner collects metrics (``$BIGMODEL_METRICS_FILE`` set: ``make course``,
    the test suite) it also prints one ``[metric] name = value`` line into the executed notebook."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"record_metric({name!r}, ...) needs a real number, got {type(value).__name__}.")
    value = float(value)
    RECORDED[name] = value
    path = os.environ.get(METRICS_ENV)
    if path:
        print(f"[metric] {name} = {value:.6g}")
    _update_json(path, name, value if math.isfinite(value) else str(value))


def _in_jupyter() -> bool:
    """Whether this code runs in an IPython kernel (rich output) rather than plain Python (printed output)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def say(template: str, **values) -> None:
    """Show prose whose numbers come from this run: ``template`` is Markdown with ``{name:format}`` fields,
    filled from the metrics recorded so far in this kernel and from ``values`` (which win).

    So a sentence that quotes a result cannot contradict the output above it, whatever the data or mode:
    ``say("Test accuracy: {mlp_test_accuracy:.1%}.")`` shows *Test accuracy: 92.7%.* It returns nothing, so
    the sentence is not shown a second time as the cell's value."""
    fields = {**RECORDED, **values}
    try:
        text = template.format_map(fields)
    except KeyError as err:
        raise KeyError(f"say(): no recorded metric or value named {err.args[0]!r}; record it with "
                       f"bml.record_metric first or pass it as a keyword. Known: {', '.join(sorted(fields))}.") from None
    if _in_jupyter():
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text)


SHOWN_IN_FULL_LINES = 20  # longer helper sources are folded: one click opens them


def show_source(*objects) -> None:
    """Show the source of helpers from the package. A helper of up to ``SHOWN_IN_FULL_LINES`` lines is printed;
    a longer one is folded under a line naming it, so the page shows the lesson and the code is one click away.
    Outside Jupyter everything is printed."""
    import html
    import inspect

    in_jupyter = _in_jupyter()
    for obj in objects:
        source = inspect.getsource(obj)
        lines = source.count("\n")
        if not in_jupyter or lines <= SHOWN_IN_FULL_LINES:
            print(source)
            continue
        from IPython.display import HTML, display

        name = f"{obj.__module__}.{obj.__qualname__}"
        display(HTML(f"<details><summary>Source of <code>{name}</code> ({lines} lines): click to read</summary>"
                     f"<pre>{html.escape(source)}</pre></details>"))


def record_check(key: str, solved: bool) -> None:
    """Save one exercise's latest result where the runner asked for it (grading and the tests read it)."""
    _update_json(os.environ.get(CHECKS_ENV), key, bool(solved))


class PeakMemory:
    """Sample the resident memory of a process tree with psutil (every ``interval`` s, in a thread).

    The peak is the largest sampled sum over the tree: the resident size (RSS) of the root, or of its children
    with ``include_root=False`` (e.g. a papermill driver whose child is the kernel), plus the unique set size
    (USS) of every process below them, the memory only it uses. A forked child shares its parent's pages until
    it writes them: counted by RSS, an 800 MB kernel that forks to run a command (joblib counting CPU cores,
    ``subprocess``) would read as 1.6 GB until the child execs. Works on Linux, macOS and Windows.

    The tree itself is listed again every ``TREE_EVERY`` seconds, not at every sample: psutil lists a process's
    children by reading every process's entry in /proc (2.5 ms here), which at 20 samples a second took 5–10%
    of a core away from the notebook being measured.
    """
    TREE_EVERY = 0.25

    def __init__(self, pid: int, include_root: bool = True, interval: float = 0.05):
        import psutil

        try:
            self._root = psutil.Process(pid)
        except psutil.NoSuchProcess:  # already gone: nothing to measure
            self._root = None
        self._include_root, self._interval = include_root, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_mb = 0.0
        self.peak_time: float | None = None  # ``time.time()`` of the largest sample
        self._tree: tuple[list, list] = ([], [])  # (measured by RSS, below them by USS)
        self._tree_listed = -math.inf  # time.monotonic() of the last listing

    def _sample(self) -> None:
        import psutil

        try:
            if not self._root.is_running():  # exited; its pid may already belong to an unrelated process
                self._stop.set()
                return
            if time.monotonic() - self._tree_listed >= self.TREE_EVERY:
                measured = [self._root] if self._include_root else self._root.children()
                self._tree = measured, [p for p in self._root.children(recursive=True) if p not in measured]
                self._tree_listed = time.monotonic()
        except (psutil.Error, AttributeError):  # the tree has exited, or was gone from the start
            return
        measured, below = self._tree
        total = 0
        for proc in measured + below:
            try:
                total += proc.memory_info().rss if proc in measured else proc.memory_full_info().uss
            except psutil.Error:
                pass
        if total / 2**20 > self.peak_mb:
            self.peak_mb, self.peak_time = total / 2**20, time.time()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def start(self) -> "PeakMemory":
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def cell_running_at(nb, when: float | None) -> str:
    """The code cell of an executed notebook that ran last before ``when`` (a ``time.time()``), named as nbval
    names it (code cells counted from 0) with its first line of code; ``""`` when no timing says. The timing is what
    nbclient records in each cell's ``metadata.execution`` (papermill's runs; the suite's ``conftest.py`` writes
    the same), so a memory peak can say which cell it came from."""
    from datetime import datetime

    found, number = "", 0
    for cell in nb.cells:
        if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", []):
            continue  # papermill's inserted cell: not in the source notebook
        started = cell.metadata.get("execution", {}).get("iopub.execute_input", "")
        started = started and datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()  # 3.10 wants +00:00
        if when is not None and started and started <= when:
            code = [line.strip() for line in cell.source.splitlines() if line.strip()[:1] not in ("", "#")]
            found = " ".join([f"Cell {number}:", *code[:1]])[:80]
        number += 1
    return found


def kill_tree(pid: int) -> None:
    """Kill a process and everything it started (a timed-out run leaves no kernel behind)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)


@dataclass
class ChildRun:
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float
    peak_time: float | None  # ``time.time()`` of the peak


def run_child(cmd: list[str], env: dict[str, str], timeout: float) -> ChildRun:
    """Run ``cmd`` in its own process with a time limit, measuring the peak memory of its descendants."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", errors="replace")
    memory = PeakMemory(proc.pid, include_root=False).start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        returncode = proc.returncode
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        stdout, stderr = proc.communicate()
        returncode = None
    return ChildRun(returncode, stdout, stderr, time.perf_counter() - start, memory.stop(), memory.peak_time)


@dataclass
class Result:
    notebook: str
    status: str
    seconds: float
    peak_mb: float
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    problems: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    peak_cell: str = ""  # the cell running at the memory peak (cell_running_at)


def skip_iri_grammar() -> None:
    """Keep ``rfc3987_syntax`` out of this process: jsonschema (under nbformat) then leaves its "iri" format
    unchecked, which no notebook schema uses, and nbformat imports 2.6 s sooner (0.3 s). That package builds about
    35 Earley parsers when imported (python-jsonschema/jsonschema#1428). Call it before nbformat is imported;
    only in processes that run or read notebooks (the runner's child, the CLI), never in a learner's kernel."""
    sys.modules.setdefault("rfc3987_syntax", None)  # None makes ``import rfc3987_syntax`` raise ImportError


def _execute(source: str, target: str, fast: str, allow_errors: str = "0") -> None:
    """Child process: run one notebook with papermill (the parent measures the kernel's memory).

    The kernel starts in the target's folder, so files a notebook writes land beside the executed copy (never in
    the installed package)."""
    skip_iri_grammar()
    import papermill

    papermill.execute_notebook(source, target, parameters={"FAST": fast == "1"}, cwd=str(Path(target).parent),
                               progress_bar=False, kernel_name="python3",
                               allow_errors=allow_errors == "1")


def execute(source: Path, target: Path, fast: bool = True, timeout: float | None = None,
            allow_errors: bool = False) -> Result:
    """Execute one notebook in a child process with a time limit; collect status, time, memory, metrics, checks.

    ``<target stem>.metrics.json`` and ``<target stem>.checks.json`` are written beside ``target``. With
    ``allow_errors`` every cell runs even after one raises, and the status is still ``failed``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    metrics_file = target.with_name(f"{target.stem}.metrics.json")
    checks_file = target.with_name(f"{target.stem}.checks.json")
    for path in (metrics_file, checks_file):
        path.unlink(missing_ok=True)
    env = {**os.environ, METRICS_ENV: str(metrics_file.resolve()), CHECKS_ENV: str(checks_file.resolve()),
           "BIGMODEL_STATIC": "1", "BIGMODEL_FAST": "1" if fast else "0"}
    timeout = NOTEBOOK_TIMEOUT_S[fast] if timeout is None else timeout
    cmd = [sys.executable, "-m", "bigmodel_lessons.course", str(source), str(target), "1" if fast else "0",
           "1" if allow_errors else "0"]
    run = run_child(cmd, env, timeout)
    if run.returncode is None:
        status, error = "timeout", f"did not finish in {timeout:g} s"
    else:
        status, error = ("ok", "") if run.returncode == 0 else ("failed", run.stderr.strip()[-3000:])
    read = lambda path: json.loads(path.read_text()) if path.exists() else {}  # noqa: E731
    peak_cell = ""
    if target.exists():  # papermill saves the notebook as it goes, so a failed or stopped run has one too
        import nbformat

        peak_cell = cell_running_at(nbformat.read(target, as_version=4), run.peak_time)
    return Result(source.stem, status, run.seconds, run.peak_mb, read(metrics_file), error,
                  checks=read(checks_file), peak_cell=peak_cell)


def problems(ch: Chapter | None, metrics: dict, peak_mb: float, peak_cell: str = "") -> list[str]:
    """What is wrong with a run: a metric missing or outside the chapter's ``expect`` range, or too much memory
    (naming ``peak_cell``, the cell that ran at the peak, when known)."""
    from .prose import FAST_METRIC

    found = []
    expected = {} if ch is None else {**ch.expect, **(ch.expect_full if metrics.get(FAST_METRIC) == 0.0 else {})}
    for name, (low, high) in expected.items():
        value = metrics.get(name)
        if value is None:
            found.append(f"{ch.stem} did not record {name}")
        elif not (isinstance(value, float) and low <= value <= high):
            found.append(f"{name}={value} outside [{low}, {high}]")
    if not peak_mb < PEAK_MEMORY_MB:
        where = f" ({peak_cell})" if peak_cell else ""
        found.append(f"peak memory {peak_mb:.0f} MB{where}, limit {PEAK_MEMORY_MB} MB")
    return found


def run_notebook(ch: Chapter, out_dir: Path = OUT_DIR, fast: bool = True) -> Result:
    """Execute one chapter's notebook and judge it against the chapter's expected metrics, the memory limit, the
    numbers its Markdown quotes (:mod:`bigmodel_lessons.prose`) and anything it wrote to stderr."""
    import nbformat

    from .notebooks import stderr_outputs
    from .prose import contradictions

    result = execute(NOTEBOOK_DIR / ch.notebook, out_dir / ch.notebook, fast)
    if result.status == "ok":
        executed = nbformat.read(out_dir / ch.notebook, as_version=4)  # the Markdown as it was when the run began
        result.problems = problems(ch, result.metrics, result.peak_mb, result.peak_cell)
        result.problems += contradictions(executed, result.metrics) + stderr_outputs(executed)
    return result


def format_table(results: list[Result]) -> str:
    rows = [("notebook", "status", "seconds", "peak MB", "metrics")]
    for r in results:
        shown = "; ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(r.metrics.items()))
        status = r.status if r.status != "ok" or not r.problems else "PROBLEM"
        rows.append((r.notebook, status, f"{r.seconds:.1f}", f"{r.peak_mb:.0f}", shown))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + " | " + row[4] for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += [f"{r.notebook}: {p}" for r in results for p in r.problems]
    return "\n".join(lines)


def run_course(names: list[str] | None = None, fast: bool = True, out_dir: Path = OUT_DIR) -> list[Result]:
    """Execute the named notebooks (default: every ready chapter), print the table and save summary.json.

    A run passes when its status is ``ok`` and :func:`problems` finds nothing (metric ranges, memory)."""
    chapters = [chapter(n) for n in names] if names else ready_chapters()
    not_ready = [c.stem for c in chapters if not c.ready and not (NOTEBOOK_DIR / c.notebook).exists()]
    if not_ready:
        raise ValueError(f"Planned chapters have no notebook yet: {', '.join(not_ready)}.")
    results = []
    for ch in chapters:
        print(f"running {ch.notebook} ({'fast' if fast else 'full'} mode)…", flush=True)
        results.append(run_notebook(ch, out_dir, fast))
        if results[-1].error:
            print(results[-1].error, file=sys.stderr)
    print(format_table(results))
    summary = [r.__dict__ for r in results]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return results


if __name__ == "__main__":
    _execute(*sys.argv[1:5])
