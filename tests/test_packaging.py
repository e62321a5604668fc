"""Set-up files agree with each other: pyproject, constraints, both environment files, Makefile, CI, Binder."""
import re
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> dict[str, Requirement]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {canonicalize_name(Requirement(d).name): Requirement(d) for d in deps}


def _conda_pip_requirements(path: Path) -> dict[str, Requirement]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return {canonicalize_name(Requirement(d).name): Requirement(d) for d in pip}


def _constraints() -> dict[str, str]:
    lines = [l.strip() for l in (ROOT / "constraints.txt").read_text().splitlines() if "==" in l]
    return {canonicalize_name(l.split("==")[0]): l.split("==")[1] for l in lines}


def test_environment_files_name_the_same_dependencies_as_pyproject():
    wanted = _pyproject_requirements()
    top = _conda_pip_requirements(ROOT / "environment.yml")
    binder = _conda_pip_requirements(ROOT / "binder" / "environment.yml")
    assert set(top) == set(binder) == set(wanted)
    assert {n: r.specifier for n, r in top.items()} == {n: r.specifier for n, r in wanted.items()}


def test_constraints_pin_every_dependency_within_its_range_and_binder_uses_the_pins():
    pins = _constraints()
    binder = _conda_pip_requirements(ROOT / "binder" / "environment.yml")
    for name, req in _pyproject_requirements().items():
        assert name in pins, f"constraints.txt does not pin {name}"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {req.specifier}"
        assert str(binder[name].specifier) == f"=={pins[name]}"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in readme and "make lab" in readme and "make course" in readme
    assert "BIGMODEL_DATA_DIR" in ci


def test_makefile_sets_everything_up_from_a_fresh_clone():
    makefile = (ROOT / "Makefile").read_text()
    for step in ("-m venv", "-c constraints.txt -e", "ipykernel install --sys-prefix"):
        assert step in makefile
    for target in ("lab", "test", "course"):
        assert re.search(rf"^{target}: setup", makefile, re.M)


def test_binder_post_build_installs_the_package_and_fetches_data():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "set -e" in post and "pip install" in post and "bigmodel-lessons data fetch" in post


def test_ci_installs_chromium_and_builds_the_site_and_learners_land_in_the_workbook():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y -qq chromium" in ci and re.search(r"^make site$", ci, re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^site: setup", makefile, re.M) and "student --out workbook --keep" in makefile
    assert "student --out workbook --keep" in (ROOT / "binder" / "postBuild").read_text()
    assert "urlpath=lab/tree/workbook/00_start_here.ipynb" in (ROOT / "README.md").read_text()
