"""bigmodel_lessons/pytest_plugin.py: what it changes in this very test run, and the kernel start it retries."""
import sys

import pytest

from bigmodel_lessons.pytest_plugin import retrying


def test_this_run_loads_the_plugin_before_nbval():
    from nbval import plugin

    assert sys.modules.get("rfc3987_syntax", "absent") is None  # kept out before nbval imported nbformat
    assert plugin.RunningKernel.__name__ == "RetryingKernel"


class _Kernel:
    """Stands in for nbval's RunningKernel: its kernel dies while starting the first ``deaths`` times."""
    started = []

    def __init__(self, name, deaths):
        _Kernel.started.append(name)
        if len(_Kernel.started) <= deaths:
            raise RuntimeError("Kernel died before replying to kernel_info")


def test_a_kernel_that_dies_while_starting_is_started_once_more():
    _Kernel.started = []
    with pytest.warns(UserWarning, match="kernel died while starting"):
        retrying(_Kernel)("python3", deaths=1)
    assert _Kernel.started == ["python3", "python3"]


def test_a_kernel_that_dies_twice_fails_with_nbvals_error():
    _Kernel.started = []
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="Kernel died before replying"):
        retrying(_Kernel)("python3", deaths=2)
    assert len(_Kernel.started) == 2


def test_a_kernel_that_starts_is_started_once():
    _Kernel.started = []
    retrying(_Kernel)("python3", deaths=0)
    assert _Kernel.started == ["python3"]
