import numpy as np
import pytest

from bigmodel_lessons.exercises import answers_match, check, exercise


@pytest.mark.parametrize("answer, expected, ok", [
    ("Overfitting.", "overfitting", True),
    ("underfitting", "overfitting", False),
    ("反向传播", ("backpropagation", "反向传播"), True),
    (0.3101, 0.31, True),
    (0.32, 0.31, False),
    (True, 1, False),
    ("1290", 1290, False),
    ([0.1, 0.2], (0.1, 0.2), True),
    ([0.1, 0.2, 0.3], (0.1, 0.2), False),
    (np.float32(1290), 1290, True),
])
def test_answers_match(answer, expected, ok):
    assert answers_match(answer, expected) is ok


def test_check_prints_tick_cross_and_never_raises_on_wrong_answers(capsys):
    check("00_start_here.dense_params", 1290)
    check("00_start_here.dense_params", 1280)
    check("00_start_here.dense_params", None)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✓")
    assert out[1].startswith("✗") and "Hint:" in out[1]
    assert out[2].startswith("✗") and "no answer yet" in out[2]


def test_check_reports_an_answer_that_raises(capsys):
    exercise("00_start_here.test_raising", compare=lambda fn: fn(2) == 4, hint="square it")
    check("00_start_here.test_raising", lambda x: 1 / 0)
    assert "raised ZeroDivisionError" in capsys.readouterr().out


def test_unknown_exercise_and_notebook_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="00_start_here.overfitting"):
        check("00_start_here.nope", 1)
    with pytest.raises(ValueError, match="valid: 00_start_here"):
        check("99_nowhere.ex", 1)


def test_exercise_needs_exactly_one_way_to_judge():
    with pytest.raises(ValueError):
        exercise("00_start_here.bad", hint="h")
