"""Chapter 09 section 4 (multi-task learning) alone, exactly as the notebook runs it, in full or fast mode.

Usage: BIGMODEL_DATA_DIR=../shared/data .venv/bin/python bench/multitask.py [--fast]

The whole chapter takes about 47 minutes in full mode; its section 4 needs only MiniLM's frozen embeddings of the
multi-task texts. This script runs the notebook's own code for it, read from the notebook so the two cannot drift
apart: the ``FAST``/``SEED`` cell and ``bml.start`` (cells 1-2), the ``SIZES`` cell, the lines that load MiniLM,
build the encoder, load and embed the texts (from cells 14, 17 and 24), then the train/test split (cell 39) and
the λ grid (cell 43) whole. Prints the λ table, the recorded metrics and the seconds of each step, with the load
average (the machine may be shared).
"""
import os
import sys
import time
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "09_pretraining_and_fine_tuning.ipynb"


def code_cell(nb, needle: str) -> str:
    """The one code cell whose source contains ``needle``."""
    (found,) = [c.source for c in nb.cells if c.cell_type == "code" and needle in c.source]
    return found


def line_of(nb, start: str) -> str:
    """The one line of a code cell that starts with ``start`` (a statement on one line)."""
    (found,) = [line for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()
                if line.startswith(start)]
    return found


def main(fast: bool) -> None:
    import bigmodel_lessons as bml
    from bigmodel_lessons import course

    nb = nbformat.read(NOTEBOOK, as_version=4)
    ns = {"display": print}
    steps = [("settings", code_cell(nb, "SEED =")),
             ("mode", f"FAST = {fast}\n" + code_cell(nb, "bml.start(FAST, SEED)")),
             ("sizes", code_cell(nb, "SIZES = {")),
             ("MiniLM", line_of(nb, "backbone, preprocessor, minilm_source = ") + "\n"
                        + line_of(nb, "encoder = minilm.build_encoder(")),
             ("texts", line_of(nb, "texts_mt, labels_mt, mt_source = ")),
             ("embeddings", line_of(nb, "E_mt = ")),
             ("split (cell 39)", code_cell(nb, "mt_train, mt_test =")),
             ("λ grid (cell 43)", code_cell(nb, "lambda_grid =")),
             ]
    print("load average before:", os.getloadavg())
    for name, source in steps:
        started = time.perf_counter()
        exec(compile(source, f"<{name}>", "exec"), ns)
        print(f"[{name}] {time.perf_counter() - started:.1f} s", flush=True)
    sizes, labels, train = ns["SIZES"], ns["labels_mt"], ns["mt_train"]
    print(f"{len(ns['texts_mt']):,} texts ({int(train.sum()):,} train / {int((~train).sum()):,} test), "
          f"{sizes['multitask_epochs']} epochs, {sizes['minilm_tokens']} word pieces")
    for task, y in labels.items():
        print(f"{task}: train {int((y[train] == 0).sum())} / {int(y[train].sum())} (0 / 1), "
              f"test {int((y[~train] == 0).sum())} / {int(y[~train].sum())}")
    print("λ table (accuracy on the test texts):")
    print(ns["lambda_table"].to_string(float_format=lambda v: f"{v:.4f}"))
    for name, value in course.RECORDED.items():
        print(f"[metric] {name} = {value:.6g}")
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main(fast="--fast" in sys.argv[1:])
