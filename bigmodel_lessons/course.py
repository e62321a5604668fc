"""Run the course headless: every notebook through papermill, with its recorded metrics in one table.

Notebooks call :func:`record_metric` for their key results; the runner points ``BIGMODEL_METRICS_FILE`` at a
JSON file beside each executed notebook, and the kernel writes the metrics there.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

from .chapters import Chapter, chapter, ready_chapters

METRICS_ENV = "BIGMODEL_METRICS_FILE"
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
OUT_DIR = Path("build/executed")
CELL_TIMEOUT_S = 1800
NOTEBOOK_TIMEOUT_S = {True: 900, False: 3 * 3600}  # fast mode, full mode


def record_metric(name: str, value: float) -> None:
    """Record a notebook's key result (printed, and saved for ``make course`` and the tests)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"record_metric({name!r}, ...) needs a real number, got {type(value).__name__}.")
    value = float(value)
    print(f"[metric] {name} = {value:.6g}")
    path = os.environ.get(METRICS_ENV)
    if path:
        metrics = json.loads(Path(path).read_text()) if Path(path).exists() else {}
        metrics[name] = value if math.isfinite(value) else str(value)
        Path(path).write_text(json.dumps(metrics, indent=2, sort_keys=True))


@dataclass
class Result:
    notebook: str
    status: str
    seconds: float
    peak_mb: float
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""


def _execute(source: str, target: str, fast: str) -> None:
    """Child process: run one notebook with papermill, then print the kernel's peak memory as JSON."""
    import resource

    import papermill

    papermill.execute_notebook(source, target, parameters={"FAST": fast == "1"}, cwd=str(Path(source).parent),
                               execution_timeout=CELL_TIMEOUT_S, progress_bar=False, kernel_name="python3")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"peak_mb": peak_kb / 1024}))


def run_notebook(ch: Chapter, out_dir: Path = OUT_DIR, fast: bool = True) -> Result:
    """Execute one chapter's notebook in a child process with a time-out; collect status, time, memory, metrics."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ch.notebook
    metrics_file = out_dir / f"{ch.stem}.metrics.json"
    metrics_file.unlink(missing_ok=True)
    env = {**os.environ, METRICS_ENV: str(metrics_file.resolve()), "BIGMODEL_STATIC": "1",
           "BIGMODEL_FAST": "1" if fast else "0"}
    cmd = [sys.executable, "-m", "bigmodel_lessons.course", str(NOTEBOOK_DIR / ch.notebook), str(target),
           "1" if fast else "0"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT_S[fast])
        status, error = ("ok", "") if proc.returncode == 0 else ("failed", proc.stderr.strip()[-3000:])
    except subprocess.TimeoutExpired:
        proc, status, error = None, "timeout", f"did not finish in {NOTEBOOK_TIMEOUT_S[fast]} s"
    seconds = time.perf_counter() - start
    peak = json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"] if status == "ok" else float("nan")
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return Result(ch.stem, status, seconds, peak, metrics, error)


def format_table(results: list[Result]) -> str:
    rows = [("notebook", "status", "seconds", "peak MB", "metrics")]
    for r in results:
        shown = "; ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(r.metrics.items()))
        rows.append((r.notebook, r.status, f"{r.seconds:.1f}", f"{r.peak_mb:.0f}", shown))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + " | " + row[4] for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def run_course(names: list[str] | None = None, fast: bool = True, out_dir: Path = OUT_DIR) -> list[Result]:
    """Execute the named notebooks (default: every ready chapter), print the table and save summary.json."""
    chapters = [chapter(n) for n in names] if names else ready_chapters()
    not_ready = [c.stem for c in chapters if not c.ready]
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
    _execute(*sys.argv[1:4])
