"""``bigmodel-lessons grade``: one row per submission, ✓/✗ per exercise, bad submissions reported, not fatal."""
import csv

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bigmodel_lessons.cli import main
from bigmodel_lessons.grading import Grade, columns, markdown, table
from bigmodel_lessons.notebooks import student_copy


def _chapter_00_like(*extra_cells):
    """Notebook 00's two exercises in the course's exercise / solution / check pattern."""
    cells = [new_code_cell("FAST = None", metadata={"tags": ["parameters"]}),
             new_code_cell("import bigmodel_lessons as bml"),
             new_markdown_cell("What is 过拟合 in English?", metadata={"tags": ["exercise"]}),
             new_code_cell('answer_overfitting = "overfitting"', metadata={"tags": ["solution"]}),
             new_code_cell('# NBVAL_CHECK_OUTPUT\nbml.check("00_start_here.overfitting", answer_overfitting)'),
             *extra_cells,
             new_markdown_cell("Parameters of Dense(10) on 128 units?", metadata={"tags": ["exercise"]}),
             new_code_cell("answer_dense_params = 128 * 10 + 10", metadata={"tags": ["solution"]}),
             new_code_cell('# NBVAL_CHECK_OUTPUT\nbml.check("00_start_here.dense_params", answer_dense_params)')]
    nb = new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    nbformat.write(_chapter_00_like(), submissions / "ada_solved.ipynb")
    nbformat.write(student_copy(_chapter_00_like()), submissions / "bob_unsolved.ipynb")
    (submissions / "cy_corrupt.ipynb").write_text('{"cells": [ this is not JSON')
    (submissions / "dee").mkdir()
    nbformat.write(_chapter_00_like(new_code_cell("1 / 0")), submissions / "dee" / "raises.ipynb")
    (submissions / "eve_notes.txt").write_text("I did the exercises in my head.")
    (submissions / ".ipynb_checkpoints").mkdir()
    (submissions / ".ipynb_checkpoints" / "ada_solved-checkpoint.ipynb").write_text("{}")
    before = {p: p.read_bytes() for p in submissions.rglob("*") if p.is_file()}
    out = tmp_path_factory.mktemp("grades")
    assert main(["grade", str(submissions), "--out", str(out), "--jobs", "2", "--timeout", "900"]) == 0
    after = {p: p.read_bytes() for p in submissions.rglob("*") if p.is_file()}
    return before, after, out, list(csv.reader(open(out / "grades.csv", encoding="utf-8")))


def test_one_row_per_submission_with_marks_totals_and_reasons(graded):
    _, _, out, rows = graded
    header, *body, totals = rows
    assert header == ["submission", "00_start_here.overfitting", "00_start_here.dense_params", "solved", "of", "reason"]
    by_name = {row[0]: row[1:] for row in body}
    assert by_name["ada_solved.ipynb"] == ["✓", "✓", "2", "2", ""]
    assert by_name["bob_unsolved.ipynb"] == ["✗", "✗", "0", "2", ""]
    assert by_name["cy_corrupt.ipynb"][:4] == ["", "", "0", "0"]
    assert by_name["cy_corrupt.ipynb"][4].startswith("corrupt notebook")
    assert by_name["dee/raises.ipynb"][:3] == ["✓", "✓", "2"]  # the cells after the error still ran
    assert "ZeroDivisionError" in by_name["dee/raises.ipynb"][4]
    assert by_name["eve_notes.txt"][4].startswith("not a notebook")
    assert len(body) == 5  # hidden checkpoint folders are not submissions
    assert totals == ["solved by", "2", "2", "4", "6", "5 submissions"]
    assert (out / "grades.md").read_text().count("\n") == len(rows) + 1
    assert (out / "executed" / "dee" / "raises.ipynb").exists()  # the instructor can read each run


def test_submissions_are_never_modified(graded):
    before, after, _, _ = graded
    assert before == after


def test_table_orders_exercises_by_chapter_and_escapes_markdown():
    grades = [Grade("a", ["01_x.b", "01_x.a"], {"01_x.b": True}, "raised ValueError: a|b"),
              Grade("b", ["00_y.z"], {"00_y.z": False})]
    rows = table(grades)
    assert columns(grades) == ["00_y.z", "01_x.b", "01_x.a"]
    assert rows[1] == ["a", "", "✓", "✗", "1", "2", "raised ValueError: a|b"]
    assert "a\\|b" in markdown(rows)


def test_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_kernel_that_dies_while_starting_is_started_again(tmp_path, monkeypatch):
    """Two kernels starting at once can lose a race (seen once in CI): the submission ran no code, so it is not
    its fault; grading starts it once more, and says so if the kernel dies again."""
    from bigmodel_lessons import grading
    from bigmodel_lessons.course import Result

    (tmp_path / "in").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "in" / "a.ipynb")
    died = Result("a", "failed", 1.0, 0.0, {}, f"RuntimeError: {grading.KERNEL_START_FAILURE}")
    outcomes = [died, Result("a", "ok", 1.0, 0.0, {}, "", checks={"00_start_here.overfitting": True})]
    monkeypatch.setattr(grading, "execute", lambda *args, **kwargs: outcomes.pop(0))
    [started_again] = grading.grade(tmp_path / "in", tmp_path / "out")
    assert not outcomes and started_again.reason == "" and started_again.checks == {"00_start_here.overfitting": True}
    monkeypatch.setattr(grading, "execute", lambda *args, **kwargs: died)
    [never] = grading.grade(tmp_path / "in", tmp_path / "out")
    assert "died while starting, twice" in never.reason and "grade it again" in never.reason
