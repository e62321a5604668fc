import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from bigmodel_lessons.widgets import interact_or_static, widgets_available


def test_static_fallback_draws_each_setting(capsys):
    calls = []
    interact_or_static(lambda lr: calls.append(lr), static=[{"lr": 0.1}, {"lr": 1.5}], lr=(0.01, 2.0))
    assert calls == [0.1, 1.5]
    assert "static view" in capsys.readouterr().out


def test_static_fallback_needs_settings():
    with pytest.raises(ValueError, match="static needs at least one"):
        interact_or_static(print, static=[])


def test_no_widgets_outside_a_kernel():
    assert not widgets_available()


def test_live_kernel_gets_real_widgets(monkeypatch):
    monkeypatch.setenv("BIGMODEL_STATIC", "0")
    nb = new_notebook(cells=[new_code_cell(
        "from bigmodel_lessons.widgets import interact_or_static\n"
        "interact_or_static(lambda lr: print(lr), static=[{'lr': 0.1}], lr=(0.0, 1.0))")])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    mimes = {m for o in nb.cells[0].outputs for m in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes
