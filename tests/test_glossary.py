"""Every term a chapter's opener says is "in the glossary" really is there (issue #19)."""
import re
from pathlib import Path

import nbformat
import pytest

from bigmodel_lessons.glossary import GLOSSARY

NOTEBOOKS = sorted(Path(__file__).resolve().parents[1].joinpath("notebooks").glob("[0-9][0-9]_*.ipynb"))
TERMS_LINE = re.compile(r"Terms this chapter uses before explaining them \((?P<terms>.*?)\) are in the \[glossary\]", re.S)


def _normalise(term: str) -> str:
    return re.sub(r"\s+", " ", term.lower().replace(" and ", ", ").replace("/", ", ")).strip()


def _promised_terms(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    found = [m["terms"] for cell in nb.cells if cell.cell_type == "markdown" for m in TERMS_LINE.finditer(cell.source)]
    return [t.strip() for terms in found for t in re.split(r",(?![^(]*\))", terms) if t.strip()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_term_an_opener_sends_to_the_glossary_has_an_entry(path):
    promised = _promised_terms(path)
    if path.name[:2] in ("07", "08", "10"):  # chapters 01-06 have the line too (00 and 99 need none; 09: its own issue)
        assert promised, f"{path.name} has no 'Terms this chapter uses before explaining them (…)' line"
    entries = [_normalise(english) for english, _, _ in GLOSSARY]
    missing = [term for term in promised if not any(_normalise(term) in entry for entry in entries)]
    assert not missing, f"{path.name} sends these terms to the glossary, which lacks them: {missing}"


def test_glossary_terms_are_unique_and_complete():
    english = [entry[0] for entry in GLOSSARY]
    assert len(english) == len(set(english))
    assert all(len(entry) == 3 and all(part.strip() for part in entry) for entry in GLOSSARY)


# A glossary word used in another sense, or inside a title or name, where the glossary's meaning is not meant.
OTHER_SENSE = {
    ("01", "bias"): "'popularity bias' in the table of application areas",
}


def _spellings(english: str) -> list[str]:
    """'big model / large model' -> ['big model', 'large model']; a parenthesised note is dropped."""
    return [part for part in (re.sub(r"\s*\(.*?\)", "", p).strip() for p in english.split(" / ")) if part]


def _first_use(spelling: str, text: str):
    """The first use of a spelling, and its first explanation: in bold, set alone in italics, or a heading."""
    word = rf"(?<![\w-]){re.escape(spelling)}(?:s|es)?(?![\w-])"
    used = re.search(word, text, re.I)
    explained = re.search(rf"\*\*[^*]*?{word}[^*]*?\*\*|(?<!\*)\*{word}\*(?!\*)|^#+ [^\n]*?{word}", text, re.I | re.M)
    return used, explained


def _without_titles(text: str) -> str:
    """Blank out italic spans of three or more words (titles of papers and articles), keeping positions."""
    return re.sub(r"(?<!\*)\*(?!\*)([^*\n]+?\s[^*\n]+?\s[^*\n]+?)(?<!\*)\*(?!\*)", lambda m: " " * len(m[0]), text)


def test_no_chapter_uses_a_glossary_term_before_explaining_it_or_listing_it():
    """Read in order, each chapter explains a term (in bold) where or before it first uses it, names it only in
    its introduction and explains it later, lists it in its opening glossary line, or relies on an earlier
    chapter's explanation. Chapter 00 holds the glossary and is not checked."""
    explained_earlier, unexplained = set(), []
    for path in NOTEBOOKS:
        chapter = path.name[:2]
        nb = nbformat.read(path, as_version=4)
        text = _without_titles("\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown"))
        introduction_ends = text.find("\n## ") % (len(text) + 1)
        listed = [_normalise(term) for term in _promised_terms(path)]
        explained_here = set()
        for english, _, _ in GLOSSARY:
            for spelling in _spellings(english):
                used, explained = _first_use(spelling, text)
                if not used:
                    continue
                explained_here |= {english} if explained else set()
                in_line = any(_normalise(spelling) == term or _normalise(english) in term or term in _normalise(english)
                              for term in listed)
                ok = (chapter == "00" or english in explained_earlier or in_line or (chapter, spelling) in OTHER_SENSE
                      or (explained and (explained.start() <= used.start() or used.start() < introduction_ends)))
                if not ok:
                    unexplained.append(f"{chapter}: {spelling!r} in '…{text[max(0, used.start() - 50):used.end() + 30]}…'"
                                       .replace("\n", " "))
                break
        explained_earlier |= explained_here
    assert not unexplained, "used before explained or listed in the chapter's glossary line:\n" + "\n".join(unexplained)
