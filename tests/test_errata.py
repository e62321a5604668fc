"""Every erratum quotes its article exactly, inside the named section, and points to a heading that exists; every
quote of an article in the notebooks' prose is exact too."""
import math
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from bigmodel_lessons import errata
from bigmodel_lessons.errata import ARTICLES, ERRATA, KINDS

ROOT = Path(__file__).resolve().parents[1]
ARTICLES_DIR = Path(os.environ.get("BIGMODEL_ARTICLES_DIR", ROOT.parent / "shared" / "articles"))
HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*$")


def sections(text: str) -> dict[str, str]:
    """Heading text -> the text under every heading with that text (up to the next heading of the same or a
    higher level). A "# ..." line inside a ``` fence is a code comment, not a heading; "## ..." and deeper always
    count, because one article leaves a code fence unclosed."""
    lines, found, in_code = text.split("\n"), [], False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif (m := HEADING.match(line)) and (len(m.group(1)) > 1 or not in_code):
            found.append((i, len(m.group(1)), m.group(2)))
    out: dict[str, str] = {}
    for k, (start, level, title) in enumerate(found):
        end = next((i for i, lv, _ in found[k + 1:] if lv <= level), len(lines))
        out[title] = out.get(title, "") + "\n".join(lines[start:end]) + "\n"
    return out


def notebook_headings(stem: str) -> set[str]:
    notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    return {m.group(2) for c in notebook.cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if (m := HEADING.match(line))}


ARTICLE_NAME = re.compile(r"\d{3}_[0-9a-f]{16}\.txt")
QUOTED = re.compile(r"“([^”\n]+)”|「([^」\n]+)」|\"([^\"\n]+)\"|^>\s*(.+)$", re.M)
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
HAN = re.compile(r"[\u4e00-\u9fff]")


def quotes(markdown: str, article_lines: set[str]):
    """What a markdown cell quotes from the articles: each code block at least half of whose lines are article
    lines (split at "..." elisions), and each quotation (“…”, 「…」, "…" or a > line) mostly in Chinese."""
    for block in FENCE.findall(markdown):
        code = [line.strip() for line in block.splitlines() if line.strip()]
        if 2 * sum(line in article_lines for line in code) >= len(code):
            for run in re.split(r"^\s*(?:\.\.\.|…)\s*$", block, flags=re.M):
                if run.strip():
                    yield run.strip("\n")
    for groups in QUOTED.findall(FENCE.sub("", markdown)):
        quote = next(g for g in groups if g)
        if len(HAN.findall(quote)) >= max(2, len(re.findall(r"[A-Za-z]", quote))):
            yield quote


def misquotes(markdown: str, articles: dict[str, str]) -> list[str]:
    """The quotes of ``markdown`` that are not verbatim in the article its cell names (any article if none)."""
    named = [articles[name] for name in ARTICLE_NAME.findall(markdown) if name in articles] or articles.values()
    lines = {line.strip() for text in articles.values() for line in text.splitlines() if line.strip()}
    return [q for q in quotes(markdown, lines) if not any(q in text for text in named)]


needs_articles = pytest.mark.skipif(not ARTICLES_DIR.is_dir(), reason=f"source articles not found in {ARTICLES_DIR}")


def test_at_least_thirty_records_covering_all_five_articles():
    assert len(ERRATA) >= 30
    assert set(errata.counts()["article"]) == set(ARTICLES)


@pytest.mark.parametrize("record", ERRATA, ids=lambda e: f"{e.article[:3]}-{e.quote[:20]}")
def test_record_fields(record):
    assert record.article in ARTICLES
    assert record.kind in KINDS
    assert record.section and record.quote.strip() and len(record.correction) > 20
    assert "\t" not in record.correction and "\f" not in record.correction


@needs_articles
@pytest.mark.parametrize("record", ERRATA, ids=lambda e: f"{e.article[:3]}-{e.quote[:20]}")
def test_quote_is_verbatim_in_the_named_section(record):
    text = (ARTICLES_DIR / record.article).read_text(encoding="utf-8")
    found = sections(text)
    assert record.section in found, f"no heading {record.section!r} in {record.article}"
    assert record.quote in found[record.section], f"quote not found under {record.section!r}: {record.quote!r}"


@needs_articles
@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name[:2])
def test_every_quote_of_an_article_in_a_notebook_is_verbatim(path):
    articles = {name: (ARTICLES_DIR / name).read_text(encoding="utf-8") for name in ARTICLES}
    found = [(i, q) for i, cell in enumerate(nbformat.read(path, as_version=4).cells) if cell.cell_type == "markdown"
             for q in misquotes(cell.source, articles)]
    assert not found, "not verbatim in the article the cell names (cell index, quote): " + repr(found)


def test_a_paraphrase_or_a_wrong_article_is_a_misquote():
    articles = {"000_0000000000000000.txt": "## 4.3 例子\n```python\nmodel.fit(x, y)\nmodel.evaluate(x, y)\n```\n"
                                            "**F1值**：综合考虑准确率和召回率。",
                "001_1111111111111111.txt": "模型在测试集上的准确率为约98%"}
    exact = ('`000_0000000000000000.txt` says "**F1值**：综合考虑准确率和召回率" and\n'
             "```python\nmodel.fit(x, y)\n...\nmodel.evaluate(x, y)\n```")
    assert misquotes(exact, articles) == []
    assert misquotes("```python\nmodel.fit(x, y)\nmodel.evaluate(x_test, y_test)\n```", articles) == [
        "model.fit(x, y)\nmodel.evaluate(x_test, y_test)"]
    assert misquotes('It says "F1值：综合考虑准确率和召回率"', articles) == ["F1值：综合考虑准确率和召回率"]
    assert misquotes('`000_0000000000000000.txt`: "模型在测试集上的准确率为约98%"', articles) == [
        "模型在测试集上的准确率为约98%"]  # verbatim, but in another article than the one named
    assert misquotes('"a word (词)" and "an English quote"', articles) == []


@needs_articles
def test_article_files_are_the_five_listed():
    assert {p.name for p in ARTICLES_DIR.glob("*.txt")} == set(ARTICLES)


@pytest.mark.parametrize("record", [e for e in ERRATA if e.taught_in], ids=lambda e: f"{e.taught_in[0][:2]}-{e.quote[:20]}")
def test_where_taught_heading_exists(record):
    stem, heading = record.taught_in
    assert (ROOT / "notebooks" / f"{stem}.ipynb").exists(), stem
    assert heading in notebook_headings(stem), f"{stem} has no heading {heading!r}"


def test_where_taught_text():
    record = next(e for e in ERRATA if e.taught_in is None)
    assert record.where_taught == "not covered"


def test_errata_for_rejects_an_unknown_article():
    with pytest.raises(ValueError, match="000_6aac9b8b84da323c.txt"):
        errata.errata_for("nope.txt")


def test_table_has_one_row_per_record_of_the_article():
    for article in ARTICLES:
        assert len(errata.errata_table(article)) == len(errata.errata_for(article))


def test_the_corrected_numbers():
    """The numbers the corrections state, recomputed."""
    assert round(1 / (1 + math.exp(-3)), 4) == 0.9526
    assert round((0.2**2 + 0.5**2 + 0.8**2) / 3, 4) == 0.31
    assert math.isclose(0.1 + (0.01 - 0.1) * 0.01 / 0.001, -0.8)
    x = 1.7
    assert math.isclose((x**3 * 2 * x - x**2 * 3 * x**2) / x**6, -1 / x**2)
    y = np.array([[0.1, 0.8, 0.1], [0.3, 0.5, 0.2], [0.2, 0.3, 0.5]])
    p = np.array([[0.2, 0.7, 0.1], [0.4, 0.6, 0.0], [0.1, 0.4, 0.5]])
    clipped = -np.mean(np.sum(y * np.log(np.clip(p, 1e-7, 1 - 1e-7)), axis=1))
    finite = -np.sum(y[p > 0] * np.log(p[p > 0])) / 3
    assert round(clipped, 2) == 1.84 and round(finite, 2) == 0.76
    assert round(101_770) == 784 * 128 + 128 + 128 * 10 + 10
    assert round((1 - 0.9) * 0.5 / math.sqrt((1 - 0.999) * 0.5**2), 2) == 3.16


def test_adam_without_bias_correction_steps_too_far():
    """Adam's erratum: the uncorrected steps m/√v are larger than the corrected m̂/√v̂ (3.16× at t = 1, peak
    about 6.57× near t = 12, 3.24× at t = 100), and the correction says so, with these numbers."""
    beta_1, beta_2, m, v, ratios = 0.9, 0.999, 0.0, 0.0, {}
    rng = np.random.default_rng(0)
    for t, g in enumerate(rng.choice([-1.0, 1.0], size=2000) * rng.uniform(0.01, 10, size=2000), start=1):
        m, v = beta_1 * m + (1 - beta_1) * g, beta_2 * v + (1 - beta_2) * g**2
        uncorrected, corrected = m / math.sqrt(v), (m / (1 - beta_1**t)) / math.sqrt(v / (1 - beta_2**t))
        ratios[t] = uncorrected / corrected
    assert all(r > 1 for r in ratios.values()), "the uncorrected step must be the larger one"
    peak = max(ratios, key=ratios.get)
    assert round(ratios[1], 2) == 3.16 and peak == 12 and round(ratios[12], 2) == 6.57
    assert round(ratios[100], 2) == 3.24
    m1 = (1 - beta_1) * 0.5  # first step, constant gradient 0.5: uncorrected 3.16α, corrected exactly α
    assert round(m1 / math.sqrt((1 - beta_2) * 0.5**2), 2) == 3.16
    assert math.isclose((m1 / (1 - beta_1)) / math.sqrt((1 - beta_2) * 0.5**2 / (1 - beta_2)), 1.0)
    adam = next(e for e in ERRATA if e.quote == r"\theta := \theta - \alpha \frac{m_t}{\sqrt{v_t} + \epsilon}")
    assert "too large" in adam.correction and "too small" not in adam.correction
    assert all(n in adam.correction for n in ("3.16α instead of α", "6.57", "t = 12", "3.24"))
