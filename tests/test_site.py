"""The course website: book sources from the executed notebooks, refused when a chapter did not run cleanly,
and (where ``make site-deps`` installed Jupyter Book) a real build that fails on a broken internal link."""
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bigmodel_lessons.chapters import CHAPTERS, ready_chapters
from bigmodel_lessons.glossary import GLOSSARY
from bigmodel_lessons.website import (CONFIG, GLOSSARY_LINK_IN_LAB, JUPYTER_BOOK, build, execution_problems,
                                      prepare_book)

HAS_JUPYTER_BOOK = JUPYTER_BOOK.exists()
needs_jupyter_book = pytest.mark.skipif(not HAS_JUPYTER_BOOK, reason="no Jupyter Book: run `make site-deps`")


def _executed(title, *extra_cells):
    cell = new_code_cell("print('hi')", execution_count=1, outputs=[new_output("stream", name="stdout", text="hi\n")])
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}"), cell, *extra_cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture
def executed(tmp_path):
    folder = tmp_path / "executed"
    folder.mkdir()
    for ch in ready_chapters():  # each links the glossary as the chapters do
        nbformat.write(_executed(ch.title, new_markdown_cell(f"See the [glossary]{GLOSSARY_LINK_IN_LAB}.")),
                       folder / ch.notebook)
    return folder


def test_book_has_every_ready_chapter_the_table_and_the_glossary(executed, tmp_path):
    book = tmp_path / "book"
    pages = prepare_book(executed, book)
    assert [p.name for p in pages] == [ch.notebook for ch in ready_chapters()]
    toc = (book / "_toc.yml").read_text()
    assert all(f"- file: {ch.stem}\n" in toc for ch in ready_chapters()) and "- file: glossary" in toc
    intro = (book / "intro.md").read_text()
    for ch in CHAPTERS:
        assert (f"[{ch.title}]({ch.stem}.ipynb)" in intro) == ch.ready and ch.title in intro
    glossary = (book / "glossary.md").read_text()
    assert all(zh in glossary for _, zh, _ in GLOSSARY)
    assert (book / "_config.yml").read_text() == CONFIG.read_text()
    linked = nbformat.read(pages[0], as_version=4).cells[-1].source
    assert linked == "See the [glossary](glossary.md)."  # the site's glossary page, not notebook 00's anchor


def test_a_chapter_that_did_not_run_cleanly_stops_the_site(executed, tmp_path):
    first, second = ready_chapters()[:2]
    (executed / first.notebook).unlink()
    broken = _executed("x", new_code_cell("1 / 0", execution_count=2, outputs=[
        new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]),
        new_code_cell("print('never ran')"))
    nbformat.write(broken, executed / second.notebook)
    with pytest.raises(ValueError) as err:
        prepare_book(executed, tmp_path / "book")
    message = str(err.value)
    assert f"{first.notebook}: not executed" in message
    assert f"{second.notebook}: code cell 1 raised ZeroDivisionError" in message
    assert f"{second.notebook}: code cell 2 did not run" in message
    assert execution_problems(_executed("fine")) == []


@needs_jupyter_book
def test_site_builds_with_every_chapter_linked(executed, tmp_path):
    index = build(*_book(executed, tmp_path))
    assert 'url=intro.html' in index.read_text()  # Jupyter Book's index redirects to the start page
    html = (index.parent / "intro.html").read_text()
    for ch in ready_chapters():
        assert (index.parent / f"{ch.stem}.html").exists()
        assert f"{ch.stem}.html" in html
    assert (index.parent / "glossary.html").exists()


@needs_jupyter_book
def test_site_build_fails_on_a_broken_internal_link(executed, tmp_path):
    book, site = _book(executed, tmp_path)
    with open(book / "intro.md", "a") as f:
        f.write("\nSee [the missing chapter](99_missing.ipynb).\n")
    with pytest.raises(RuntimeError, match="Jupyter Book failed"):
        build(book, site)


def _book(executed, tmp_path):
    book = tmp_path / "book"
    prepare_book(executed, book)
    site = tmp_path / "site"
    shutil.rmtree(site, ignore_errors=True)
    return book, site
