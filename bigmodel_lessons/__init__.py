"""bigmodel-lessons: the helper package behind the course notebooks.

Importing it turns TensorFlow's start-up log noise down before TensorFlow loads. Notebooks start with::

    import bigmodel_lessons as bml
    fast = bml.start(FAST, SEED)
"""
from .env import quiet_tensorflow

quiet_tensorflow()

from .course import record_metric, say, show_source  # noqa: E402
from .env import (check_environment, fast_mode, free_memory, package_version, seed_everything,  # noqa: E402
                  start, use_gpu)
from .exercises import check  # noqa: E402

__all__ = ["check", "check_environment", "fast_mode", "free_memory", "record_metric", "say", "seed_everything",
           "show_source", "start", "use_gpu"]
__version__ = package_version()  # the one version number, in pyproject.toml
