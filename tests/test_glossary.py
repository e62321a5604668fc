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
