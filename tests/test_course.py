"""The headless runner behind ``make course``, grading and the tests: one child process per notebook, a time
limit that leaves no kernel behind, peak memory from psutil, metrics and checks from the kernel, and the
judgement of a run against a chapter's ranges. (The chapters themselves run once each, under nbval, with the
same judgement: see conftest.py.)"""
import json
import sys
from datetime import datetime

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from bigmodel_lessons.chapters import Chapter
from bigmodel_lessons.course import (PEAK_MEMORY_MB, PeakMemory, Result, cell_running_at, execute, format_table,
                                     problems, record_check, record_metric, run_child)


def _notebook(tmp_path, *sources):
    path = tmp_path / "nb.ipynb"
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_execute_collects_metrics_checks_and_the_kernels_memory(tmp_path):
    path = _notebook(tmp_path, "FAST = None", "from bigmodel_lessons.course import record_check, record_metric\n"
                     "import numpy as np\nblock = np.ones(200 * 2**20 // 8)  # 200 MB\nrecord_metric('answer', 42)\n"
                     "record_check('00_start_here.overfitting', True)\nimport time; time.sleep(0.5)\ndel block",
                     "time.sleep(0.5)")  # freed inside cell 1: the next cell's first moments cannot top its peak
    result = execute(path, tmp_path / "out" / "nb.ipynb")
    assert result.status == "ok", result.error
    assert result.metrics == {"answer": 42.0} and result.checks == {"00_start_here.overfitting": True}
    assert 200 < result.peak_mb < PEAK_MEMORY_MB  # the kernel's 200 MB block is seen, the driver is not counted
    assert result.peak_cell == "Cell 1: from bigmodel_lessons.course import record_check, record_metric"
    assert (tmp_path / "out" / "nb.ipynb").exists()


def test_files_a_notebook_writes_land_beside_its_executed_copy_never_beside_its_source(tmp_path):
    source = _notebook(tmp_path, "FAST = None", "open('written.txt', 'w').write('here')")
    assert execute(source, tmp_path / "out" / "nb.ipynb").status == "ok"  # the source may be in site-packages
    assert (tmp_path / "out" / "written.txt").exists() and not (tmp_path / "written.txt").exists()


def test_a_failing_notebook_reports_its_error(tmp_path):
    result = execute(_notebook(tmp_path, "FAST = None", "raise ValueError('broken on purpose')"), tmp_path / "o.ipynb")
    assert result.status == "failed" and "broken on purpose" in result.error


def test_the_course_runner_reports_stderr_output_and_judges_the_markdown_it_ran(tmp_path, monkeypatch):
    from bigmodel_lessons import course

    source = _notebook(tmp_path, "FAST = None", "import sys\nsys.stderr.write('Retry downloading from url\\n')")
    monkeypatch.setattr(course, "NOTEBOOK_DIR", source.parent)
    result = course.run_notebook(Chapter(98, source.stem, "test"), tmp_path / "out")
    # cell 2 of the executed copy: papermill inserts its injected-parameters cell after the parameters
    assert result.status == "ok" and result.problems == ["code cell 2 writes to stderr: Retry downloading from url"]


def test_time_limit_stops_a_notebook(tmp_path):
    result = execute(_notebook(tmp_path, "FAST = None", "import time\ntime.sleep(300)"), tmp_path / "o.ipynb", timeout=5)
    assert result.status == "timeout" and result.error == "did not finish in 5 s"


def test_time_limit_kills_the_whole_process_tree(tmp_path):
    """A timed-out notebook leaves no kernel behind: everything the child started is killed with it."""
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
            f" open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(300)")
    run = run_child([sys.executable, "-c", code], env=None, timeout=6)  # ample for two Python start-ups
    assert run.returncode is None
    grandchild = int(pid_file.read_text())
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


def test_run_child_measures_only_descendants_when_asked(tmp_path):
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'b = bytearray(300 * 2**20); import time; time.sleep(1)'])"
    run = run_child([sys.executable, "-c", code], env=None, timeout=60)
    assert run.returncode == 0 and 300 < run.peak_mb < 600


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_peak_memory_counts_a_forked_child_s_shared_pages_once():
    """A 300 MB process that forks: the child shares its pages until it writes them. RSS would count 600 MB."""
    code = ("import os, time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); pid = os.fork()\n"
            "if pid == 0: time.sleep(1.5); os._exit(0)\n"
            "os.waitpid(pid, 0)")
    proc = psutil.Popen([sys.executable, "-c", code])
    sampler = PeakMemory(proc.pid, interval=0.01).start()
    proc.wait()
    assert 300 < sampler.stop() < 400


def test_peak_memory_of_a_finished_process_is_zero():
    proc = psutil.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert PeakMemory(proc.pid).start().stop() == 0.0


def test_peak_memory_stops_sampling_when_its_process_exits():
    """Once the root has exited its pid may be reused by an unrelated process, which must not be counted."""
    proc = psutil.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    sampler = PeakMemory(proc.pid, interval=0.01).start()
    proc.wait()
    sampler._thread.join(timeout=5)
    assert not sampler._thread.is_alive() and sampler.stop() > 0


def test_peak_memory_samples_often_but_lists_the_process_tree_seldom(monkeypatch):
    """Listing a process's children reads all of /proc: done every TREE_EVERY (0.25) s, not at every sample."""
    listings, samples = [], []
    children, memory_info = psutil.Process.children, psutil.Process.memory_info
    monkeypatch.setattr(psutil.Process, "children", lambda p, recursive=False: listings.append(1) or
                        children(p, recursive=recursive))
    monkeypatch.setattr(psutil.Process, "memory_info", lambda p: samples.append(1) or memory_info(p))
    proc = psutil.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    sampler = PeakMemory(proc.pid, interval=0.01).start()
    proc.wait()
    assert sampler.stop() > 0 and len(samples) >= 10 and 1 <= len(listings) <= 4, (len(samples), len(listings))


def test_the_cell_running_at_a_moment_is_the_last_one_started_before_it():
    nb = new_notebook(cells=[new_code_cell("FAST = None"), new_code_cell("FAST = True"), new_code_cell("x = 1"),
                             nbformat.v4.new_markdown_cell("text"), new_code_cell("# NBVAL_CHECK_OUTPUT\n\n  y = np.ones(10**9)\nz = 2"),
                             new_code_cell("never ran")])
    nb.cells[1].metadata.tags = ["injected-parameters"]  # papermill's: not counted, as nbval does not see it
    for cell, started in zip(nb.cells, ("10:00:00", "10:00:01", "10:00:02", None, "10:00:05")):
        if started:
            cell.metadata.execution = {"iopub.execute_input": f"2026-12-07T{started}.000000Z"}
    at = lambda hms: datetime.fromisoformat(f"2026-12-07T{hms}+00:00").timestamp()  # noqa: E731
    assert cell_running_at(nb, at("10:00:03")) == "Cell 1: x = 1"
    assert cell_running_at(nb, at("10:00:05.5")) == "Cell 2: y = np.ones(10**9)"
    assert cell_running_at(nb, at("09:59:59")) == cell_running_at(nb, None) == ""


def test_problems_judge_ranges_missing_metrics_and_memory():
    ch = Chapter(99, "99_test", "test", expect={"acc": (0.8, 1.0), "loss": (0, 1)})
    assert problems(ch, {"acc": 0.9, "loss": 0.5}, 100) == []
    found = problems(ch, {"acc": 0.5, "loss": "nan"}, PEAK_MEMORY_MB + 1)
    assert found == ["acc=0.5 outside [0.8, 1.0]", "loss=nan outside [0, 1]",
                     f"peak memory {PEAK_MEMORY_MB + 1} MB, limit {PEAK_MEMORY_MB} MB"]
    assert problems(ch, {"acc": 0.9}, 100) == ["99_test did not record loss"]
    assert problems(None, {}, float("nan")) == [f"peak memory nan MB, limit {PEAK_MEMORY_MB} MB"]
    found = problems(None, {}, 2084, "Cell 20: def f():")
    assert found == [f"peak memory 2084 MB (Cell 20: def f():), limit {PEAK_MEMORY_MB} MB"]


def test_full_mode_ranges_apply_only_to_full_mode_runs():
    ch = Chapter(99, "99_test", "test", expect={"acc": (0.5, 1.0)}, expect_full={"acc": (0.8, 1.0), "ft": (0.7, 1.0)})
    assert problems(ch, {"fast_mode": 1.0, "acc": 0.6}, 100) == []
    assert problems(ch, {"fast_mode": 0.0, "acc": 0.6}, 100) == ["acc=0.6 outside [0.8, 1.0]", "99_test did not record ft"]
    assert problems(ch, {"fast_mode": 0.0, "acc": 0.9, "ft": 0.75}, 100) == []


def test_table_lists_every_notebook_and_its_problems():
    results = [Result("00_a", "ok", 1.0, 10.0, {"m": 1.0}), Result("01_b", "ok", 2.0, 20.0, problems=["x=2 outside"])]
    table = format_table(results)
    assert "00_a" in table and "PROBLEM" in table and "01_b: x=2 outside" in table


def test_record_metric_and_check_write_json_and_reject_non_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("BIGMODEL_METRICS_FILE", str(tmp_path / "m.json"))
    monkeypatch.setenv("BIGMODEL_CHECKS_FILE", str(tmp_path / "c.json"))
    record_metric("a", 1)
    record_metric("b", float("nan"))
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1.0, "b": "nan"}
    with pytest.raises(TypeError, match="needs a real number"):
        record_metric("c", "high")
    record_check("00_start_here.overfitting", False)
    record_check("00_start_here.overfitting", True)
    assert json.loads((tmp_path / "c.json").read_text()) == {"00_start_here.overfitting": True}


def test_the_runner_reads_and_validates_notebooks_without_the_iri_grammar():
    """skip_iri_grammar keeps rfc3987_syntax (2.6 s of parser building per process) out, and nbformat still
    validates: a notebook with a malformed cell is refused, a good one passes."""
    import subprocess

    probe = ("import sys; from bigmodel_lessons.course import skip_iri_grammar; skip_iri_grammar(); "
             "import nbformat; from nbformat.v4 import new_code_cell, new_notebook; "
             "nbformat.validate(new_notebook(cells=[new_code_cell('x = 1')])); "
             "bad = new_notebook(cells=[new_code_cell('x = 1')]); bad.cells[0]['outputs'] = 'none'; "
             "print(not nbformat.validator.isvalid(bad), sys.modules.get('rfc3987_syntax', 'absent'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "None"]


def test_the_runner_and_the_package_start_without_tensorflow():
    """The process that runs each notebook only drives papermill, and the CLI starts in a blink: importing the
    package must not load TensorFlow (4–5 s, once per notebook executed). A chapter module still loads it."""
    import subprocess

    probe = ("import sys, bigmodel_lessons, bigmodel_lessons.course, bigmodel_lessons.cli; "
             "print('tensorflow' in sys.modules); "
             "import bigmodel_lessons.transformer; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
    assert out.stderr == "", "TensorFlow's start-up log reached stderr"
