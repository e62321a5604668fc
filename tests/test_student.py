"""Student copies (the learner's workbook): solutions become TODO stubs with the answer one click away, and
every chapter's copy runs to the end, reporting ✗ for each exercise."""
import nbformat
import pytest

from bigmodel_lessons.chapters import ready_chapters
from bigmodel_lessons.course import NOTEBOOK_DIR, execute
from bigmodel_lessons.exercises import check, exercise
from bigmodel_lessons.notebooks import (CHECK_MARK, exercise_keys, solution_stub, student_copy, tags,
                                        write_student_copies)


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


@pytest.mark.parametrize("ch", ready_chapters(), ids=lambda c: c.stem)
def test_student_copy_runs_to_the_end_with_every_exercise_unsolved(tmp_path, ch):
    source = nbformat.read(NOTEBOOK_DIR / ch.notebook, as_version=4)
    copy = tmp_path / ch.notebook
    nbformat.write(student_copy(source), copy)
    result = execute(copy, tmp_path / "executed" / ch.notebook)
    assert result.status == "ok", result.error
    keys = exercise_keys(source)
    assert result.checks == {key: False for key in keys}
    out = nbformat.read(tmp_path / "executed" / ch.notebook, as_version=4)
    printed = "".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("✗") == len(keys) and "✓" not in printed
