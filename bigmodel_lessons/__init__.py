"""bigmodel-lessons: the helper package behind the course notebooks.

Importing it is quick: TensorFlow loads, with its start-up log noise turned down, when something first needs it
(``start``, or a chapter module that builds models). Notebooks start with::

    import bigmodel_lessons as bml
    fast = bml.start(FAST, SEED)
"""
from .course import record_metric, say, show_source
from .env import check_environment, fast_mode, free_memory, package_version, seed_everything, start, use_gpu
from .exercises import check

__all__ = ["check", "check_environment", "fast_mode", "free_memory", "record_metric", "say", "seed_everything",
           "show_source", "start", "use_gpu"]
__version__ = package_version()  # the one version number, in pyproject.toml
