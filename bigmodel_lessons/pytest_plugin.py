"""How pytest starts notebooks: sooner and reliably. pytest loads this plugin before its others
(``-p bigmodel_lessons.pytest_plugin`` in pyproject.toml); ``conftest.py`` judges what the notebooks then do."""
import warnings

from .course import skip_iri_grammar

skip_iri_grammar()  # before nbval imports nbformat: each pytest process starts 2.6 s sooner


def retrying(kernel_class):
    """``kernel_class`` (nbval's ``RunningKernel``), started once more when its kernel dies before answering.
    jupyter_client picks a kernel's five ports by binding and releasing them, so a kernel starting at the same
    moment in another process (the other xdist worker's) can take one first; this kernel then exits and nbval
    reports "Kernel died before replying to kernel_info" (chapter 99, in one suite run on 2026-12-07)."""

    class RetryingKernel(kernel_class):
        def __init__(self, *args, **kwargs):
            try:
                super().__init__(*args, **kwargs)
            except RuntimeError as error:
                warnings.warn(f"a notebook's kernel died while starting ({error}); starting it once more")
                super().__init__(*args, **kwargs)

    return RetryingKernel


def pytest_configure(config):
    try:
        from nbval import plugin
    except ImportError:  # without nbval no notebook is collected
        return
    if plugin.RunningKernel.__name__ != "RetryingKernel":
        plugin.RunningKernel = retrying(plugin.RunningKernel)
