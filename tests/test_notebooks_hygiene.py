"""Notebooks are committed clean and consistent with the chapter registry, the README and 00's table."""
import re
from pathlib import Path

import nbformat
import pytest

from bigmodel_lessons.chapters import CHAPTERS, ready_chapters
from bigmodel_lessons.notebooks import CHECK_MARK, tags

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BANNED = re.compile(r"tf\.keras|keras\.preprocessing\.text|tf\.placeholder|optimizers\.legacy")
REMOTE_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*https?://|<img[^>]+src=[\"']?https?://", re.I)


def _ids(paths):
    return [p.name for p in paths]


@pytest.fixture(params=NOTEBOOKS, ids=_ids(NOTEBOOKS))
def nb(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_file_name_kernel_and_parameters_cell(nb):
    path, notebook = nb
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)
    assert notebook.metadata.kernelspec.name == "python3"
    assert sum("parameters" in tags(c) for c in notebook.cells) == 1
    nbformat.validate(notebook)


def test_outputs_and_execution_counts_only_in_nbval_checked_cells(nb):
    """Checked cells are numbered 1, 2, 3, … (nbval skips a cell without a count); no other cell has any."""
    _, notebook = nb
    checked = 0
    for i, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        is_checked = CHECK_MARK in cell.source
        checked += is_checked
        assert bool(cell.outputs) == is_checked, f"code cell {i}: {'missing' if is_checked else 'stale'} outputs"
        assert cell.execution_count == (checked if is_checked else None), f"code cell {i}: execution count"


def test_no_remote_images_and_no_deprecated_apis(nb):
    _, notebook = nb
    for cell in notebook.cells:
        assert not REMOTE_IMAGE.search(cell.source), cell.source[:200]
        if cell.cell_type == "code":
            assert not BANNED.search(cell.source), cell.source[:200]


def test_every_exercise_has_a_solution_and_a_check(nb):
    _, notebook = nb
    cells = notebook.cells
    for i, cell in enumerate(cells):
        if "exercise" in tags(cell):
            assert "solution" in tags(cells[i + 1]) and cells[i + 1].cell_type == "code", f"cell {i + 1}"
            assert "check(" in cells[i + 2].source and CHECK_MARK in cells[i + 2].source, f"cell {i + 2}"


def test_package_has_no_deprecated_apis():
    for path in (ROOT / "bigmodel_lessons").rglob("*.py"):
        if path.name == "errata.py":  # quotes the articles' deprecated code, as data, to correct it
            continue
        assert not BANNED.search(path.read_text()), path


def test_registry_matches_the_notebooks_folder():
    assert {c.notebook for c in ready_chapters()} == {p.name for p in NOTEBOOKS}


def test_readme_and_start_here_list_every_chapter():
    readme = (ROOT / "README.md").read_text()
    start = "\n".join(c.source for c in nbformat.read(ROOT / "notebooks/00_start_here.ipynb", 4).cells)
    for ch in CHAPTERS:
        if ch.ready:
            assert f"](notebooks/{ch.notebook})" in readme, ch.notebook
            assert f"]({ch.notebook})" in start, ch.notebook
        else:
            for text in (readme, start):
                line = next((l for l in text.splitlines() if ch.notebook in l), "")
                assert "planned" in line, f"{ch.notebook} should be listed as planned"


def test_no_control_characters_in_cells(nb):
    """A TAB, form feed, etc. in a cell is almost always "\\t"/"\\f" of "\\text"/"\\frac" written through a
    non-raw string; only newlines belong in cell sources."""
    _, notebook = nb
    for i, cell in enumerate(notebook.cells):
        bad = sorted({f"U+{ord(ch):04X}" for ch in cell.source if ord(ch) < 32 and ch != "\n" or ord(ch) == 127})
        assert not bad, f"cell {i} contains control characters {bad}: {cell.source[:80]!r}"


def test_no_widget_state(nb):
    """Widget state (``metadata.widgets``, widget views in outputs) is a kernel's leftover: kilobytes of noise."""
    _, notebook = nb
    assert "widgets" not in notebook.metadata, "strip metadata.widgets (bigmodel-lessons normalize does)"
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {}), cell.source[:80]


PLACEHOLDER = re.compile(r"\{[a-z_]+\.[A-Za-z_]\w*(?:[:!][^}]*)?\}")  # {vision.MLP_PEAK_LR}: an f-string's field


def test_no_unfilled_python_placeholders_in_markdown(nb):
    """Markdown is not an f-string: a ``{module.NAME}`` there reaches the learner as written. Type the value, or
    render the sentence with ``bml.say``."""
    _, notebook = nb
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            prose = re.sub(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$", "", cell.source, flags=re.S)
            assert not PLACEHOLDER.search(prose), f"cell {i}: {PLACEHOLDER.search(prose).group(0)} is not filled in"
