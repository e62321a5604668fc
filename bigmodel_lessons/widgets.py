"""Interactive controls that degrade to static figures where widgets cannot render.

Headless runs (papermill, nbval, nbconvert) set ``BIGMODEL_STATIC=1``; so does anyone whose viewer shows no
widgets. Outside a Jupyter kernel, or without ipywidgets, the static path is taken automatically.
"""
from __future__ import annotations

import os
from typing import Any, Callable


def widgets_available() -> bool:
    """True in a live Jupyter kernel with ipywidgets installed, unless ``BIGMODEL_STATIC=1``."""
    if os.environ.get("BIGMODEL_STATIC", "").strip() not in ("", "0"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def interact_or_static(draw: Callable[..., Any], static: list[dict[str, Any]], **controls: Any) -> None:
    """Show ``draw(**values)`` driven by ipywidgets ``controls``; without widgets, call it once per dict in
    ``static`` (pick values that tell the story, e.g. a small, a good and a too-large learning rate)."""
    if not static:
        raise ValueError("static needs at least one dict of argument values for the fallback figures.")
    if widgets_available():
        import ipywidgets

        ipywidgets.interact(draw, **controls)
        return
    import matplotlib.pyplot as plt

    print(f"(static view: {len(static)} fixed setting(s); open the notebook in JupyterLab for the sliders)")
    for values in static:
        draw(**values)
        plt.show()
