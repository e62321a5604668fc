"""One figure style for the whole course."""
from __future__ import annotations

COURSE_STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.frameon": False,
    "font.family": ["DejaVu Sans", "sans-serif"],
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (called by ``bml.start``)."""
    import matplotlib as mpl

    mpl.rcParams.update(COURSE_STYLE)
