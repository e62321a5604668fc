"""The shared figure helpers draw what their docstrings promise (Agg backend, no display)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bigmodel_lessons import plots  # noqa: E402


def test_error_vs_step_is_log_log_and_marks_each_minimum():
    fig, ax = plt.subplots()
    steps = 10.0 ** -np.arange(1, 6)
    plots.plot_error_vs_step(ax, steps, {"central": [1e-2, 1e-4, 1e-6, 1e-5, 1e-3]})
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "central: smallest error 1.0e-06 at h = 1e-03" in labels
    plt.close(fig)


def test_show_digits_titles_every_image_with_its_label():
    fig = plots.show_digits(np.zeros((5, 784)), [3, 1, 4, 1, 5], n=4, n_cols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["label 3", "label 1", "label 4", "label 1"]
    plt.close(fig)


def test_grouped_bars_label_every_bar_with_its_value():
    fig, ax = plt.subplots()
    plots.plot_grouped_bars(ax, {"validation": {"mean": 1.15, "linear": 0.72}, "test": {"mean": 1.14, "linear": 0.74}},
                            xlabel="RMSE", title="errors")
    texts = {t.get_text() for t in ax.texts}
    assert {"1.150", "0.720", "1.140", "0.740"} <= texts
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mean", "linear"]
    plt.close(fig)


def test_histograms_put_long_tailed_columns_on_a_log_axis():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"tail": rng.lognormal(0, 2, 500), "flat": rng.uniform(size=500), "zeros": np.zeros(500)})
    fig = plots.histograms(table, log_x=["tail", "zeros"])  # a column with zeros cannot go on a log axis
    scales = {ax.get_title(): ax.get_xscale() for ax in fig.axes if ax.get_title()}
    assert scales == {"tail (log x-axis)": "log", "flat": "linear", "zeros": "linear"}
    plt.close(fig)
