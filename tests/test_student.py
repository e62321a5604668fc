"""Student copies (the learner's workbook): solutions become TODO stubs with the answer one click away, and
every chapter's copy runs to the end, reporting ✗ for each exercise (its stubs run in conftest.py's execution
of the chapter; chapter 00's copy runs end to end here)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bigmodel_lessons.chapters import ready_chapters
from bigmodel_lessons.course import NOTEBOOK_DIR, execute
from bigmodel_lessons.exercises import check, exercise
from bigmodel_lessons.notebooks import (CHECK_MARK, exercise_keys, solution_stub, stub_runs, student_copy, tags,
                                        workbook_problems, write_student_copies)


def test_stub_keeps_names_and_signatures():
    stub = solution_stub("import numpy as np\nanswer = 3\na, b = 1, 2\ndef f(x, y=1):\n    return x\n")
    namespace = {}
    exec(stub, namespace)
    assert namespace["answer"] is None and namespace["a"] is None and "return x" not in stub
    with pytest.raises(NotImplementedError, match="TODO"):
        namespace["f"](1)


def test_function_stub_reports_no_answer_yet(capsys):
    exercise("00_start_here.test_function_stub", compare=lambda fn: fn(2) == 4, hint="square it")
    namespace = {}
    exec(solution_stub("def square(x):\n    return x * x\n"), namespace)
    check("00_start_here.test_function_stub", namespace["square"])
    assert "no answer yet" in capsys.readouterr().out


def test_student_copies_hide_each_solution_behind_one_click(tmp_path):
    for path in write_student_copies(tmp_path):
        source = nbformat.read(NOTEBOOK_DIR / path.name, as_version=4)
        solutions = [c.source.strip() for c in source.cells if "solution" in tags(c)]
        nb = nbformat.read(path, as_version=4)
        assert not any("solution" in tags(c) for c in nb.cells)
        assert not nb.metadata.get("widgets")
        for cell in nb.cells:  # (00's prose may name the marker to explain it)
            assert not cell.get("outputs") and not (cell.cell_type == "code" and CHECK_MARK in cell.source), path.name
        reveals = [i for i, c in enumerate(nb.cells) if "solution-reveal" in tags(c)]
        assert len(reveals) == len(solutions)
        for i, solution in zip(reveals, solutions):
            assert "student-stub" in tags(nb.cells[i - 1]), f"{path.name}: a solution not under its stub"
            assert nb.cells[i].source.startswith("<details><summary>") and solution in nb.cells[i].source


def test_keep_existing_never_overwrites_a_learners_work(tmp_path):
    first = write_student_copies(tmp_path)
    first[0].write_text(first[0].read_text().replace("TODO", "MY WORK"))
    assert write_student_copies(tmp_path, keep_existing=True) == []
    assert "MY WORK" in first[0].read_text()
    assert len(write_student_copies(tmp_path)) == len(first)  # without keep_existing: fresh copies


def _solution(source):
    return new_code_cell(source, metadata={"tags": ["solution"]})


def test_chapter_00s_student_copy_runs_to_the_end_with_every_exercise_unsolved(tmp_path):
    """End to end, through the runner, for the workbook ``make lab`` opens first. Every chapter's stubs and
    checks run in its answer key's kernel (conftest.py); the test below keeps the rest of each copy the same
    program as its answer key."""
    source = nbformat.read(NOTEBOOK_DIR / "00_start_here.ipynb", as_version=4)
    copy = tmp_path / "00_start_here.ipynb"
    nbformat.write(student_copy(source), copy)
    result = execute(copy, tmp_path / "executed" / copy.name)
    assert result.status == "ok", result.error
    keys = exercise_keys(source)
    assert len(keys) == 2 and result.checks == {key: False for key in keys}
    out = nbformat.read(tmp_path / "executed" / copy.name, as_version=4)
    printed = "".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("✗") == len(keys) and "✓" not in printed


@pytest.mark.parametrize("ch", ready_chapters(), ids=lambda c: c.stem)
def test_each_student_copy_is_its_answer_key_with_stubs_that_nothing_else_reads(ch):
    nb = nbformat.read(NOTEBOOK_DIR / ch.notebook, as_version=4)
    assert workbook_problems(nb) == []
    assert sorted(key for key, _ in stub_runs(nb).values()) == sorted(exercise_keys(nb))


def test_workbook_problems_names_what_would_break_a_student_copy():
    nb = new_notebook(cells=[
        _solution("answer = 42\nimport math"), new_code_cell('bml.check("nb.answer", answer)'),
        new_code_cell("print(answer + 1)"),  # reads the solution's answer: a stub in the student copy
        new_code_cell("def f(x):\n    return math.sqrt(x)"),  # the import is the solution's too
        new_code_cell("for _ in range(2):\n    pass\n%time 1"),  # _ and magics are fine
        _solution("other = 1"), new_markdown_cell("no check below"), new_code_cell("print('hello')"),
        new_code_cell('bml.check("nb.stray", 1)')])
    found = workbook_problems(nb)
    assert len(found) == 4, found
    assert found[0].startswith("code cell 2 reads answer") and found[1].startswith("code cell 3 reads math")
    assert "solution without a bml.check" in found[2] and found[3].startswith("code cell 7 calls bml.check")


def test_a_check_that_passes_without_its_solution_fails_the_chapters_run(tmp_path):
    """conftest.py runs each stub and its check before the solution, in the notebook's kernel: a check that
    prints ✓ there (it never reads the solution) fails, while a proper exercise passes both ways; and a ✓ that
    no check printed fails the chapter's course checks (the unsolved workbook would show it too)."""
    nb = new_notebook(cells=[
        new_code_cell("import bigmodel_lessons as bml"),
        _solution("answer_dense_params = 128 * 10 + 10"),
        new_code_cell('bml.check("00_start_here.dense_params", answer_dense_params)'),
        _solution("answer_overfitting = 'overfitting'"),
        new_code_cell('bml.check("00_start_here.overfitting", "overfitting")'),  # ignores the learner's answer
        new_code_cell('print("✓ saved")')])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "nb.ipynb")
    shutil.copy(Path(__file__).parents[1] / "conftest.py", tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p bigmodel_lessons.pytest_plugin --nbval-lax --nbval-current-env -p no:cacheprovider\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not this run's options or worker
    run = subprocess.run([sys.executable, "-m", "pytest", "nb.ipynb", "-q", "-rf"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert "2 failed, 7 passed" in run.stdout, run.stdout[-3000:]
    assert "FAILED nb.ipynb::Cell 3 student stub" in run.stdout
    assert "check of 00_start_here.overfitting should print one ✗ line" in run.stdout
    assert "the outputs hold 3 ✓ and 0 ✗ for 2 exercises" in run.stdout
