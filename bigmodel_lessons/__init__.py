"""bigmodel-lessons: the helper package behind the course notebooks.

Importing it turns TensorFlow's start-up log noise down before TensorFlow loads. Notebooks start with::

    import bigmodel_lessons as bml
    fast = bml.start(FAST, SEED)
"""
from .env import quiet_tensorflow

quiet_tensorflow()

from .course import record_metric, say  # noqa: E402
from .env import check_environment, fast_mode, free_memory, seed_everything, start, use_gpu  # noqa: E402
from .exercises import check  # noqa: E402

__all__ = ["check", "check_environment", "fast_mode", "free_memory", "record_metric", "say", "seed_everything", "start", "use_gpu"]
__version__ = "0.1.0"
