"""Every ready notebook runs under papermill in fast mode and records metrics inside their expected ranges."""
import pytest

from bigmodel_lessons.chapters import ready_chapters
from bigmodel_lessons.course import format_table, record_metric, run_course

PEAK_MEMORY_MB = 1500  # Binder gives 2 GB


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("executed")
    return {r.notebook: r for r in run_course(fast=True, out_dir=out)}


@pytest.mark.parametrize("ch", ready_chapters(), ids=lambda c: c.stem)
def test_notebook_runs_and_records_expected_metrics(results, ch):
    r = results[ch.stem]
    assert r.status == "ok", r.error
    assert r.peak_mb < PEAK_MEMORY_MB
    for name, (low, high) in ch.expect.items():
        assert name in r.metrics, f"{ch.stem} did not record {name}"
        assert low <= r.metrics[name] <= high, f"{name}={r.metrics[name]} outside [{low}, {high}]"


def test_table_lists_every_notebook(results):
    table = format_table(list(results.values()))
    assert all(stem in table for stem in results)


def test_record_metric_writes_json_and_rejects_non_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("BIGMODEL_METRICS_FILE", str(tmp_path / "m.json"))
    record_metric("a", 1)
    record_metric("b", float("nan"))
    assert (tmp_path / "m.json").read_text().count('"') == 6  # a, b, "nan"
    with pytest.raises(TypeError, match="needs a real number"):
        record_metric("c", "high")
