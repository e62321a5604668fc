import subprocess
import sys

import pytest

from bigmodel_lessons.chapters import CHAPTERS
from bigmodel_lessons.cli import main


def test_check_command_exits_zero_in_the_course_environment():
    proc = subprocess.run([sys.executable, "-m", "bigmodel_lessons", "check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[OK]   keras" in proc.stdout and "[FAIL]" not in proc.stdout


def test_check_command_exits_non_zero_on_a_failed_requirement(monkeypatch, capsys):
    from packaging.requirements import Requirement

    monkeypatch.setattr("bigmodel_lessons.env.requirements", lambda: [Requirement("numpy>=999")])
    assert main(["check"]) == 1
    assert "[FAIL] numpy" in capsys.readouterr().out


def test_data_info_prints_every_dataset(capsys):
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("mnist", "mnist_official_test", "fashion_mnist", "california_housing"))


@pytest.mark.parametrize("argv, message", [
    (["data", "fetch", "imagenet"], "Unknown dataset 'imagenet'; valid names: mnist"),
    (["course", "42_nowhere"], "Unknown chapter or notebook '42_nowhere'; valid: 00_start_here"),
])
def test_unknown_names_are_clear_errors(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_course_refuses_a_planned_chapter(capsys):
    planned = [c for c in CHAPTERS if not c.ready]
    if not planned:
        pytest.skip("every chapter is ready")
    assert main(["course", planned[0].stem]) == 2
    assert f"Planned chapters have no notebook yet: {planned[0].stem}" in capsys.readouterr().err


def test_student_command_writes_copies(tmp_path, capsys):
    assert main(["student", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "00_start_here.ipynb").exists()
