"""The course as a learner installs it: ``python -m build`` (as ``make dist`` runs it) makes an sdist and a wheel
that carry every ready notebook, and the wheel, installed into a fresh virtual environment, opens a workbook and
runs one of its notebooks outside any clone.

The fresh environment holds the wheel only; it reuses the dependencies already installed in this (the project's)
environment through one ``.pth`` file listing its site-packages, so nothing is downloaded. (``python -m venv
--system-site-packages`` run from a venv would expose the base Python's packages, not the venv's.) A plain path
line, unlike a site folder, runs none of the ``.pth`` files there, so the clone's editable install stays hidden.
"""
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from bigmodel_lessons.chapters import ready_chapters
from bigmodel_lessons.notebooks import exercise_keys

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SCRIPTS = "Scripts" if os.name == "nt" else "bin"
START = "00_start_here.ipynb"  # the quickest chapter in fast mode


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT])
    return out


@pytest.fixture(scope="module")
def learner_env(dist, tmp_path_factory) -> dict:
    """A fresh venv with the wheel installed, and the environment variables that keep the clone out of it."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / SCRIPTS / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a PYTHONPATH to the clone would shadow the wheel
    env["JUPYTER_DATA_DIR"] = str(venv / "jupyter-data")  # no kernel spec of the user's: the venv's own Python runs
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env).stdout.strip()
    project = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(site, "project-dependencies.pth").write_text("\n".join(project) + "\n")
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--ignore-installed",
          next(dist.glob("*.whl"))], env=env)
    return {"env": env, "bin": venv / SCRIPTS, "site": Path(site).resolve()}


def test_the_wheel_and_the_sdist_carry_every_ready_notebook(dist):
    wheel = zipfile.ZipFile(next(dist.glob(f"bigmodel_lessons-{VERSION}-*.whl"))).namelist()
    with tarfile.open(dist / f"bigmodel_lessons-{VERSION}.tar.gz") as sdist:
        sources = sdist.getnames()
    for ch in ready_chapters():
        assert f"bigmodel_lessons/course_notebooks/{ch.notebook}" in wheel
        assert f"bigmodel_lessons-{VERSION}/notebooks/{ch.notebook}" in sources  # the wheel is built from this


def test_the_installed_wheel_opens_a_workbook_and_runs_it_outside_any_clone(learner_env, tmp_path):
    """Each command here imports TensorFlow (seconds), so the test makes few: lab --help, lab, one notebook run."""
    scripts, env = learner_env["bin"], learner_env["env"]
    assert "--no-launch" in _run([scripts / "bigmodel-lessons", "lab", "--help"], env=env, cwd=tmp_path).stdout
    _run([scripts / "bigmodel-lessons", "lab", "my-workbook", "--chapters", "00", "--no-launch"], env=env, cwd=tmp_path)
    workbook = tmp_path / "my-workbook"
    assert sorted(p.name for p in workbook.iterdir()) == [".bigmodel-lessons.json", START]
    _run([scripts / "python", "-m", "papermill", "--no-progress-bar", "--cwd", workbook, workbook / START,
          tmp_path / "executed.ipynb"], env={**env, "BIGMODEL_FAST": "1", "BIGMODEL_STATIC": "1"}, cwd=tmp_path)
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    packaged = learner_env["site"] / "bigmodel_lessons" / "course_notebooks"
    # notebook 00 prints the environment check, here the installed wheel's: its version, its notebooks
    assert f"[INFO] bigmodel-lessons {VERSION}, notebooks in {packaged}" in printed, printed
    assert "[FAIL]" not in printed and "Fast mode: on" in printed
    assert printed.count("✗") == len(exercise_keys(executed)) > 0 and "✓" not in printed  # the learner's form
