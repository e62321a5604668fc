"""The course website: a static HTML book (Jupyter Book 1.x) of the executed notebooks.

``make site`` (``bigmodel-lessons site``) takes every ready chapter's executed notebook from ``build/executed/``
(written by ``make course`` or by the test suite; missing or older ones are executed first), checks that each
ran cleanly, writes the book's sources into ``build/book/`` — a start page with the chapter table from
``chapters.py``, the glossary, one page per notebook with figures and outputs, a Binder button on each — and
builds ``build/site/index.html``, failing on a broken internal link. Jupyter Book runs from its own venv,
``build/site-venv`` (its dependencies conflict with the course's pins); Jupyter Book 2 / mystmd would fetch
their theme from the network at build time, 1.x builds offline.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat

from .chapters import CHAPTERS, ready_chapters
from .course import NOTEBOOK_DIR, OUT_DIR, run_course

CONFIG = Path(__file__).resolve().parent.parent / "book" / "_config.yml"
BOOK_DIR = Path("build/book")
SITE_DIR = Path("build/site")
JUPYTER_BOOK = Path(__file__).resolve().parent.parent / "build" / "site-venv" / "bin" / "jupyter-book"
FULL_DIR = Path("build/executed-full")
# How the chapters link the glossary in JupyterLab (its heading's anchor in notebook 00); the site has a page
GLOSSARY_LINK_IN_LAB, GLOSSARY_LINK_ON_SITE = "(00_start_here.ipynb#4.-Glossary-·-术语表)", "(glossary.md)"


def execution_problems(nb) -> list[str]:
    """Why an executed notebook is not fit to publish: code cells that never ran, or error outputs."""
    found = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        if cell.source.strip() and cell.execution_count is None:
            found.append(f"code cell {i} did not run")
        found += [f"code cell {i} raised {o.get('ename')}: {o.get('evalue')}"
                  for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    return found


def stale_chapters(executed_dir: Path) -> list[str]:
    """Ready chapters whose executed notebook is missing or older than the notebook itself."""
    return [ch.stem for ch in ready_chapters()
            if not (executed_dir / ch.notebook).exists()
            or (executed_dir / ch.notebook).stat().st_mtime < (NOTEBOOK_DIR / ch.notebook).stat().st_mtime]


def chapter_table() -> str:
    rows = ["| # | Chapter | Status |", "|---|---|---|"]
    for ch in CHAPTERS:
        title = f"[{ch.title}]({ch.stem}.ipynb)" if ch.ready else ch.title
        rows.append(f"| {ch.number:02d} | {title} | {'ready' if ch.ready else 'planned'} |")
    return "\n".join(rows)


def glossary_page() -> str:
    from .glossary import GLOSSARY

    rows = ["| English | 中文 | Meaning |", "|---|---|---|"]
    rows += [f"| {en} | {zh} | {meaning.replace('|', '/')} |" for en, zh, meaning in GLOSSARY]
    return "# Glossary · 术语表\n\nEnglish terms with their Chinese equivalents, as the course uses them.\n\n" \
           + "\n".join(rows) + "\n"


def intro_page(fast: bool) -> str:
    mode = ("fast mode (short training, as in CI); `make site FULL=1` publishes full-length results" if fast
            else "full mode (full-length training)")
    return f"""# bigmodel-lessons

A Jupyter-first course and workbook on how AI *big models* (大模型) work — for builders and founders who want
to understand them well enough to ship products.

Every page is a notebook executed in {mode}. The rocket button at the top of a page opens it on Binder, where
you can run it yourself; locally, `make lab` opens your workbook with the exercises unsolved.

## Chapters

{chapter_table()}

See also the [glossary](glossary.md).
"""


def prepare_book(executed_dir: Path, book_dir: Path = BOOK_DIR, fast: bool = True) -> list[Path]:
    """Write the book's sources; raise ``ValueError`` naming any chapter that did not execute cleanly."""
    problems = []
    for ch in ready_chapters():
        path = executed_dir / ch.notebook
        if not path.exists():
            problems.append(f"{ch.notebook}: not executed (run make course)")
            continue
        problems += [f"{ch.notebook}: {p}" for p in execution_problems(nbformat.read(path, as_version=4))]
    if problems:
        raise ValueError("The site needs every ready chapter executed cleanly:\n  " + "\n  ".join(problems))
    if book_dir.exists():
        shutil.rmtree(book_dir)
    book_dir.mkdir(parents=True)
    pages = []
    for ch in ready_chapters():
        nb = nbformat.read(executed_dir / ch.notebook, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = cell.source.replace(GLOSSARY_LINK_IN_LAB, GLOSSARY_LINK_ON_SITE)
        nbformat.write(nb, book_dir / ch.notebook)
        pages.append(book_dir / ch.notebook)
    (book_dir / "intro.md").write_text(intro_page(fast), encoding="utf-8")
    (book_dir / "glossary.md").write_text(glossary_page(), encoding="utf-8")
    toc = ["format: jb-book", "root: intro", "chapters:"]
    toc += [f"  - file: {ch.stem}" for ch in ready_chapters()] + ["  - file: glossary"]
    (book_dir / "_toc.yml").write_text("\n".join(toc) + "\n", encoding="utf-8")
    shutil.copy(CONFIG, book_dir / "_config.yml")
    return pages


def build(book_dir: Path = BOOK_DIR, site_dir: Path = SITE_DIR, jupyter_book: Path = JUPYTER_BOOK) -> Path:
    """Build the HTML with Jupyter Book, warnings (broken links included) as errors; return index.html."""
    if not Path(jupyter_book).exists():
        raise RuntimeError(f"{jupyter_book} not found: `make site` installs Jupyter Book into build/site-venv.")
    out = book_dir.parent / f"{book_dir.name}-build"
    if out.exists():
        shutil.rmtree(out)
    cmd = [str(jupyter_book), "build", str(book_dir), "--path-output", str(out), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"Jupyter Book failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    if site_dir.exists():
        shutil.rmtree(site_dir)
    shutil.copytree(out / "_build" / "html", site_dir)
    return site_dir / "index.html"


def build_site(fast: bool = True) -> Path:
    """Execute what is missing or outdated, check every chapter ran, write the book, build it."""
    executed_dir = OUT_DIR if fast else FULL_DIR
    stale = stale_chapters(executed_dir)
    if stale:
        run_course(stale, fast=fast, out_dir=executed_dir)
    prepare_book(executed_dir, fast=fast)
    return build()
