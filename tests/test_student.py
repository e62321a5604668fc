"""Student copies: solutions become TODO stubs, and the notebook still runs, reporting ✗."""
import nbformat
import papermill
import pytest

from bigmodel_lessons.exercises import check, exercise
from bigmodel_lessons.notebooks import solution_stub, student_copy, tags, write_student_copies


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


def test_student_copies_have_no_solutions(tmp_path):
    for path in write_student_copies(tmp_path):
        nb = nbformat.read(path, as_version=4)
        assert not any("solution" in tags(c) for c in nb.cells)


def test_student_copy_runs_and_reports_unsolved_exercises(tmp_path):
    source = nbformat.read("notebooks/00_start_here.ipynb", as_version=4)
    nbformat.write(student_copy(source), tmp_path / "student.ipynb")
    papermill.execute_notebook(str(tmp_path / "student.ipynb"), str(tmp_path / "out.ipynb"),
                               cwd="notebooks", kernel_name="python3", progress_bar=False)
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("✗") == 2 and "✓" not in printed
