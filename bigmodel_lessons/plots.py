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


# ---------------------------------------------------------------- helpers the chapters share
def plot_error_vs_step(ax, steps, errors: dict, title: str = "Finite-difference error against step size") -> None:
    """Log-log error against step size ``h``: one line per method (``{label: errors}``), each minimum marked."""
    import numpy as np

    steps = np.asarray(steps, dtype=float)
    for label, err in errors.items():
        err = np.asarray(err, dtype=float)
        (line,) = ax.loglog(steps, err, "o-", ms=4, label=label)
        best = int(np.argmin(err))
        ax.plot(steps[best], err[best], "*", ms=14, color=line.get_color(),
                label=f"{label}: smallest error {err[best]:.1e} at h = {steps[best]:.0e}")
    ax.set(xlabel="step size h (log scale)", ylabel="absolute error (log scale)", title=title)
    ax.invert_xaxis()  # smaller steps to the right, as h → 0
    ax.legend(fontsize=8)


def show_digits(images, labels, n: int = 12, n_cols: int = 6, title: str = "Training images and their labels"):
    """The first ``n`` images (28×28, or flattened to 784) in a grid, each titled with its label; returns the figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    images = np.asarray(images)[:n]
    images = images.reshape(len(images), 28, 28) if images.ndim == 2 else images
    n_rows = -(-len(images) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * 1.2, n_rows * 1.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, np.asarray(labels)[:n]):
        ax.imshow(image, cmap="gray_r")
        ax.set_title(f"label {label}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_grouped_bars(ax, values: dict, xlabel: str, title: str, fmt: str = "{:.3f}") -> None:
    """Horizontal bars, one group per row label: ``values`` is ``{series: {row: value}}`` (e.g. split → model →
    RMSE); every bar is labelled with its value, so the chart also reads as the table it replaces."""
    import numpy as np

    rows = list(dict.fromkeys(row for series in values.values() for row in series))
    height = 0.8 / len(values)
    positions = np.arange(len(rows))
    for k, (series, by_row) in enumerate(values.items()):
        y = positions + (k - (len(values) - 1) / 2) * height
        widths = [by_row.get(row, np.nan) for row in rows]
        bars = ax.barh(y, widths, height=height * 0.95, label=series)
        ax.bar_label(bars, labels=["" if np.isnan(w) else fmt.format(w) for w in widths], padding=3, fontsize=8)
    ax.set_yticks(positions, rows)
    ax.invert_yaxis()  # first row on top
    ax.set(xlabel=xlabel, title=title)
    ax.set_xlim(0, ax.get_xlim()[1] * 1.12)  # room for the value labels
    ax.legend(loc="lower right")


def histograms(table, log_x=(), bins: int = 60, n_cols: int = 4, title: str | None = None):
    """One histogram per column of ``table``; columns in ``log_x`` (all values > 0) get log-spaced bins on a log
    x-axis, so a long tail and the bulk of the values are both visible. Returns the figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    columns = list(table.columns)
    n_rows = -(-len(columns) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3 * n_cols, 2.4 * n_rows), squeeze=False)
    for ax in axes.flat[len(columns):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, columns):
        values = np.asarray(table[name], dtype=float)
        if name in log_x and values.min() > 0:
            ax.hist(values, bins=np.geomspace(values.min(), values.max(), bins))
            ax.set_xscale("log")
            ax.set_title(f"{name} (log x-axis)", fontsize=10)
        else:
            ax.hist(values, bins=bins)
            ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
