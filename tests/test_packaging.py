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


BINDER_PLATFORM = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.11", "extra": ""}


def _applies(req: Requirement, env: dict) -> bool:
    return req.marker is None or req.marker.evaluate(env)


def test_environment_files_name_the_same_dependencies_as_pyproject():
    wanted = _pyproject_requirements()
    top = _conda_pip_requirements(ROOT / "environment.yml")
    assert {n: (r.specifier, r.marker) for n, r in top.items()} == {n: (r.specifier, r.marker) for n, r in wanted.items()}
    binder = _conda_pip_requirements(ROOT / "binder" / "environment.yml")  # Binder builds Linux x86_64 images
    assert set(binder) == {n for n, r in wanted.items() if _applies(r, BINDER_PLATFORM)}


def test_constraints_pin_every_dependency_within_its_range_and_binder_uses_the_pins():
    pins = _constraints()
    binder = _conda_pip_requirements(ROOT / "binder" / "environment.yml")
    for name, req in _pyproject_requirements().items():
        assert name in pins, f"constraints.txt does not pin {name}"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {req.specifier}"
        if name in binder:
            assert str(binder[name].specifier) == f"=={pins[name]}"
    assert pins["tensorflow"] == pins["tensorflow-cpu"], "make gpu installs tensorflow at tensorflow-cpu's version"
    assert "tensorflow-text" not in pins, "tensorflow-text requires the full tensorflow wheel (keras-hub: --no-deps)"


def test_exactly_one_tensorflow_wheel_per_platform_and_the_cpu_wheel_where_it_is_published():
    wanted = _pyproject_requirements()
    cpu_wheel = {("linux", "x86_64"), ("win32", "AMD64")}  # tensorflow-cpu 2.21.0 wheels on PyPI
    for system, machine in [("linux", "x86_64"), ("win32", "AMD64"), ("linux", "aarch64"), ("darwin", "arm64"),
                            ("darwin", "x86_64"), ("win32", "ARM64")]:
        env = {"sys_platform": system, "platform_machine": machine, "python_version": "3.11", "extra": ""}
        chosen = {n for n in ("tensorflow", "tensorflow-cpu") if _applies(wanted[n], env)}
        assert chosen == {"tensorflow-cpu" if (system, machine) in cpu_wheel else "tensorflow"}, (system, machine)


def test_make_gpu_swaps_the_cpu_wheel_for_the_cuda_build_and_keras_hub_skips_its_dependencies():
    makefile = (ROOT / "Makefile").read_text()
    gpu = makefile[makefile.index("\ngpu: setup"):].split("\n\n")[0]
    assert re.search(r"pip uninstall .*tensorflow-cpu tensorflow", gpu)
    assert '-c constraints.txt "tensorflow[and-cuda]"' in gpu
    assert "--no-deps -c constraints.txt keras-hub" in makefile
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert not any(Requirement(r).name in ("keras-hub", "tensorflow", "tensorflow-text") for r in test_extra)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in readme and "make lab" in readme and "make course" in readme
    assert "BIGMODEL_DATA_DIR" in ci


def test_makefile_sets_everything_up_from_a_fresh_clone():
    makefile = (ROOT / "Makefile").read_text()
    for step in ("-m venv", "-c constraints.txt uv", "-c constraints.txt -e .", "ipykernel install --sys-prefix"):
        assert step in makefile
    for target in ("lab", "course"):
        assert re.search(rf"^{target}: setup", makefile, re.M)
    # learners get the course; the test suite adds its own tools on top
    assert re.search(r"^test: \$\(TEST_STAMP\)", makefile, re.M)
    assert re.search(r"^\$\(TEST_STAMP\): \$\(STAMP\).*\n.*-e \"\.\[test\]\"", makefile, re.M)
    assert re.search(r"^uv==", (ROOT / "constraints.txt").read_text(), re.M)


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


def test_one_version_in_pyproject_released_by_make_dist_and_described_in_the_changelog():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert re.search(rf"^## {re.escape(version)}\b", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert not re.search(r"__version__ = \"", (ROOT / "bigmodel_lessons" / "__init__.py").read_text())
    assert re.search(r"^dist: \$\(TEST_STAMP\).*\n.*-m build --no-isolation", (ROOT / "Makefile").read_text(), re.M)
    readme = (ROOT / "README.md").read_text()
    assert "## Install as a learner" in readme and "\nbigmodel-lessons lab " in readme
