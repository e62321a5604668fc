"""Prose that cannot contradict the output: marked numbers in Markdown are checked against the run's metrics
(``bigmodel_lessons/prose.py``), and :func:`say` renders run-dependent numbers from the recorded values.

The notebooks' own runs are judged in the "course checks" item (conftest.py) and by ``make course``; these tests
check the checker, and that every marker in the committed notebooks parses and names a metric its notebook
records."""
import functools
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from bigmodel_lessons import course
from bigmodel_lessons.prose import FAST_METRIC, contradictions, notebook_claims, parse_claims

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _nb(*markdown):
    return new_notebook(cells=[new_markdown_cell(text) for text in markdown])


def test_a_quote_the_run_contradicts_is_reported():
    """05 §2 once said the MLP "lands close to the article's 98%" where the offline sample gives 92.7%."""
    nb = _nb("The MLP lands at **98%**<!-- metric mlp_test_accuracy --> on this data.")
    found = contradictions(nb, {"mlp_test_accuracy": 0.927})
    assert len(found) == 1 and "98%" in found[0] and "0.927" in found[0]
    assert contradictions(nb, {"mlp_test_accuracy": 0.9804}) == []


def test_the_default_tolerance_is_the_quotes_rounding():
    """04 §5 once quoted 0.524 → 0.516 beside a table showing 0.522 → 0.518."""
    nb = _nb("From 0.524<!-- metric a --> to 0.516<!-- metric b -->.")
    assert len(contradictions(nb, {"a": 0.522, "b": 0.518})) == 2
    assert contradictions(nb, {"a": 0.5244, "b": 0.5155}) == []
    (claim,) = parse_claims("about 1,243<!-- metric n -->")
    assert claim.value == 1243 and claim.tolerance == pytest.approx(0.5)


def test_explicit_tolerance_and_conditions():
    nb = _nb("Full mode on full MNIST: 97.32%<!-- metric acc ±0.003 when full train=54,000 -->.")
    full = {FAST_METRIC: 0.0, "train": 54000.0}
    assert contradictions(nb, {**full, "acc": 0.975}) == []  # inside ±0.003
    assert len(contradictions(nb, {**full, "acc": 0.93})) == 1
    assert contradictions(nb, {FAST_METRIC: 1.0, "train": 54000.0, "acc": 0.5}) == []  # another mode: not its run
    assert contradictions(nb, {FAST_METRIC: 0.0, "train": 3600.0, "acc": 0.5}) == []  # other data: not its run
    assert "did not record" in contradictions(nb, full)[0]


def test_numbers_in_the_forms_prose_writes_them():
    forms = {"**99.10%**": 0.991, "−0.022": -0.022, "3.14e23": 3.14e23, "(0.47)": 0.47, "12.5 %": 0.125}
    for text, value in forms.items():
        (claim,) = parse_claims(f"x {text}<!-- metric m -->")
        assert claim.value == pytest.approx(value), text


@pytest.mark.parametrize("text", ["no number<!-- metric m -->", "1.0<!-- metric -->", "1.0<!-- metric m if full -->",
                                  "1.0<!-- metric m when sometimes -->"])
def test_malformed_markers_are_errors(text):
    with pytest.raises(ValueError):
        parse_claims(text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_marker_in_the_notebooks_names_a_metric_the_notebook_records(path):
    """A name recorded with an f-string (``f"lora_rank_{r}_accuracy"``) matches any value of its fields."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    recorded = [re.sub(r"\\{[^}]*\\}", "[^\"']+", re.escape(name))
                for name in re.findall(r"record_metric\(\s*f?[\"']([^\"']+)[\"']", code)]
    for claim in notebook_claims(nb):
        for name in (claim.metric, *(n for n, _ in claim.when if n != FAST_METRIC)):
            assert any(re.fullmatch(pattern, name) for pattern in recorded) or re.search(rf"[\"']{name}[\"']", code), \
                f"{path.name}: {name} is never recorded"


def test_say_renders_recorded_metrics_and_record_metric_is_silent_for_a_learner(monkeypatch, capsys):
    monkeypatch.delenv(course.METRICS_ENV, raising=False)
    monkeypatch.setattr(course, "RECORDED", {})
    course.record_metric("mlp_test_accuracy", 0.927)
    assert capsys.readouterr().out == ""  # a learner's kernel: no [metric] lines
    assert course.say("Here: {mlp_test_accuracy:.1%} on {n:,} images.", n=1000) is None  # shown once, not returned
    assert capsys.readouterr().out == "Here: 92.7% on 1,000 images.\n"
    with pytest.raises(KeyError, match="no recorded metric or value named 'missing'"):
        course.say("{missing}")


def test_record_metric_prints_where_a_runner_collects_metrics(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(course.METRICS_ENV, str(tmp_path / "m.json"))
    course.record_metric("answer", 42)
    assert capsys.readouterr().out == "[metric] answer = 42\n"


def test_stderr_streams_are_found_except_in_cells_that_expect_them():
    """The course checks (conftest.py) fail a chapter whose executed cells write to stderr: download retries,
    third-party warnings with temporary paths, TensorFlow notices. A cell tagged ``stderr-expected`` may."""
    from nbformat.v4 import new_code_cell, new_output

    from bigmodel_lessons.notebooks import stderr_outputs

    noisy = new_code_cell("fetch()", outputs=[new_output("stream", name="stderr", text="Retry downloading from url\n")])
    deliberate = new_code_cell("warn()", metadata={"tags": ["stderr-expected"]},
                               outputs=[new_output("stream", name="stderr", text="UserWarning: on purpose\n")])
    quiet = new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")])
    nb = new_notebook(cells=[quiet, noisy, deliberate])
    assert stderr_outputs(nb) == ["code cell 1 writes to stderr: Retry downloading from url"]


def test_show_source_prints_short_helpers_and_folds_long_ones_in_jupyter(monkeypatch, capsys):
    import IPython
    import IPython.display

    from bigmodel_lessons import economics

    course.show_source(economics.training_flops)  # plain Python: printed
    assert capsys.readouterr().out.startswith("def training_flops(")
    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", shown.append)
    course.show_source(economics.training_flops, course.PeakMemory)
    assert capsys.readouterr().out.startswith("def training_flops(")  # short: printed in full
    (folded,) = shown  # PeakMemory is longer than SHOWN_IN_FULL_LINES
    assert folded.data.startswith("<details><summary>Source of <code>bigmodel_lessons.course.PeakMemory</code>")
    assert "&quot;&quot;&quot;Sample the resident memory" in folded.data  # escaped, all of it, behind one click


DURATION = re.compile(r"(?<![\w.≤<~])(\d[\d,]*(?:\.\d+)?) (s|seconds?|min|minutes?)\b(?![\w-])")


@functools.cache
def _recorded_durations() -> tuple[float, ...]:
    """Every duration bench/RESULTS.md records, in seconds: written with a unit, or in a table column whose
    header says seconds ("seconds", "`fit` s")."""
    text = (ROOT / "bench" / "RESULTS.md").read_text()
    seconds = [float(m[1].replace(",", "")) * (60 if m[2].startswith("min") else 1) for m in DURATION.finditer(text)]
    columns = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if re.fullmatch(r"[-|: ]+", line):  # a table's rule
            continue
        if "|" not in line:
            columns = []
        elif any(re.search(r"\bseconds\b|\bs\b", cell) for cell in cells) and not re.search(r"\d", "".join(cells)):
            columns = [i for i, cell in enumerate(cells) if re.search(r"\bseconds\b|\bs\b", cell)]
        else:
            seconds += [float(n.replace(",", "")) for i in columns if i < len(cells)
                        for n in re.findall(r"\d[\d,]*(?:\.\d+)?", cells[i])]
    return tuple(seconds)


def _is_recorded(quoted: str, unit: str, recorded) -> bool:
    """A quoted duration is recorded when a recorded one rounds to it, in the quote's unit and precision."""
    value, decimals = Decimal(quoted.replace(",", "")), len(quoted.partition(".")[2])
    per_unit = 60 if unit.startswith("min") else 1
    step = Decimal(1).scaleb(-decimals)  # halves round up, as people round: 46.5 s is quoted as 47 s
    return any(Decimal(repr(r / per_unit)).quantize(step, ROUND_HALF_UP) == value for r in recorded)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_run_time_the_prose_quotes_is_recorded_in_bench_results(path):
    """A duration in a chapter's prose ("took 153 s", "2.6 minutes") comes from a recorded run: a number in
    bench/RESULTS.md rounds to it. Targets ("≤ 60 s") are not measurements and are skipped."""
    recorded = _recorded_durations()
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    unrecorded = [f"'…{text[max(0, m.start() - 40):m.end()]}'" for m in DURATION.finditer(text)
                  if not _is_recorded(m[1], m[2], recorded)]
    assert not unrecorded, f"{path.name} quotes durations bench/RESULTS.md does not record: {unrecorded}"


def test_the_duration_check_accepts_a_rounded_record_and_rejects_an_invented_one():
    recorded = [185.6, 68.7, 1793.8]
    assert _is_recorded("186", "s", recorded) and _is_recorded("68.7", "s", recorded)
    assert _is_recorded("30", "minutes", recorded) and _is_recorded("3.1", "min", recorded)
    assert not _is_recorded("185", "s", recorded) and not _is_recorded("2.5", "minutes", recorded)
    assert _is_recorded("47", "s", [46.5]) and not _is_recorded("46", "s", [46.5])
