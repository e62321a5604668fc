"""The learner's workspace behind ``bigmodel-lessons lab``: workbook copies in, the learner's edits never
overwritten on an upgrade, clear errors for a bad folder or chapter name."""
import json
import os
import shutil

import nbformat
import pytest

from bigmodel_lessons import __version__, workspace
from bigmodel_lessons.chapters import ready_chapters
from bigmodel_lessons.cli import main
from bigmodel_lessons.course import NOTEBOOK_DIR
from bigmodel_lessons.env import package_version
from bigmodel_lessons.notebooks import tags

START = "00_start_here.ipynb"
ECONOMICS = "01_big_models_and_their_economics.ipynb"


def _upgrade(tmp_path, monkeypatch, *names):
    """Point the package at a copy of its notebooks in which ``names`` have a new last cell (a new version)."""
    source = tmp_path / "newer-package"
    shutil.copytree(NOTEBOOK_DIR, source)
    for name in names:
        nb = nbformat.read(source / name, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell("A paragraph new in this version."))
        nbformat.write(nb, source / name)
    monkeypatch.setattr(workspace, "NOTEBOOK_DIR", source)


def test_first_run_copies_every_ready_chapter_in_its_workbook_form(tmp_path):
    update = workspace.prepare_workspace(tmp_path / "ws")
    names = [c.notebook for c in ready_chapters()]
    assert update.added == update.notebooks == names and not update.updated and not update.newer
    nb = nbformat.read(tmp_path / "ws" / START, as_version=4)
    assert any("student-stub" in tags(c) for c in nb.cells) and not any("solution" in tags(c) for c in nb.cells)
    manifest = json.loads((tmp_path / "ws" / workspace.MANIFEST).read_text())
    assert set(manifest) == set(names)
    again = workspace.prepare_workspace(tmp_path / "ws")  # a second run changes nothing
    assert not again.added + again.updated + again.newer
    assert str(again).startswith(f"{tmp_path / 'ws'}: {len(names)} notebooks, 0 of them new or updated")


def test_rerun_after_an_upgrade_keeps_the_learners_edit_and_writes_the_newer_version_beside_it(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    workspace.prepare_workspace(ws, ["00", "01"])
    edited = (ws / START).read_text().replace("TODO", "MY ANSWER")
    (ws / START).write_text(edited)
    _upgrade(tmp_path, monkeypatch, START, ECONOMICS)
    update = workspace.prepare_workspace(ws)  # the upgrade also brings the chapters this workspace lacked
    assert (ws / START).read_text() == edited
    assert "A paragraph new in this version." in (ws / "00_start_here-new.ipynb").read_text()
    assert "A paragraph new in this version." in (ws / ECONOMICS).read_text()  # untouched: updated in place
    assert update.newer == [START] and update.updated == [ECONOMICS]
    assert update.added == [c.notebook for c in ready_chapters()][2:]
    assert "kept your 00_start_here.ipynb; its newer version is 00_start_here-new.ipynb" in str(update)
    again = workspace.prepare_workspace(ws)  # nothing newer since: said once, the edit still kept
    assert (ws / START).read_text() == edited and not again.added + again.updated + again.newer
    (ws / "00_start_here-new.ipynb").unlink()  # read and deleted by the learner: not written again
    assert not workspace.prepare_workspace(ws).newer and not (ws / "00_start_here-new.ipynb").exists()


def test_an_edited_notebook_gets_no_newer_copy_without_an_upgrade(tmp_path):
    ws = tmp_path / "ws"
    workspace.prepare_workspace(ws, ["03"])
    (ws / "03_backprop_from_scratch.ipynb").write_text("{}")
    update = workspace.prepare_workspace(ws, ["03"])
    assert not update.added + update.updated + update.newer and sorted(p.name for p in ws.iterdir()) == [
        workspace.MANIFEST, "03_backprop_from_scratch.ipynb"]


def test_a_deleted_notebook_comes_back_fresh(tmp_path):
    ws = tmp_path / "ws"
    workspace.prepare_workspace(ws, ["00"])
    (ws / START).unlink()
    assert workspace.prepare_workspace(ws, ["00"]).added == [START]


def test_a_notebook_already_there_without_a_record_counts_as_the_learners(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / START).write_text("{}")  # e.g. a workbook/ made by make lab, or an older copy
    assert workspace.prepare_workspace(ws, ["00"]).newer == [START]
    assert (ws / START).read_text() == "{}" and (ws / "00_start_here-new.ipynb").exists()


def test_a_workspace_path_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    assert main(["lab", str(path), "--no-launch"]) == 2
    assert f"Workspace {path} is a file, not a folder; name a folder" in capsys.readouterr().err
    assert path.read_text() == "mine"


def test_a_read_only_workspace_is_a_clear_error(tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    ws.chmod(0o555)
    if os.geteuid() == 0:  # root writes through permission bits; os.access answers as for a read-only mount
        monkeypatch.setattr(workspace.os, "access", lambda path, mode: False)
    try:
        assert main(["lab", str(ws), "--no-launch"]) == 2
    finally:
        ws.chmod(0o755)
    assert f"Workspace folder {ws} is read-only; make it writable" in capsys.readouterr().err
    assert not any(ws.iterdir())


def test_an_unknown_chapter_is_a_clear_error_and_nothing_is_written(tmp_path, capsys):
    assert main(["lab", str(tmp_path / "ws"), "--chapters", "00", "42_nowhere", "--no-launch"]) == 2
    assert "Unknown chapter or notebook '42_nowhere'; valid: 00_start_here" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


def test_a_corrupt_manifest_is_a_clear_error(tmp_path):
    ws = tmp_path / "ws"
    workspace.prepare_workspace(ws, ["00"])
    (ws / workspace.MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON .*delete it and run again: your notebooks are kept"):
        workspace.prepare_workspace(ws, ["00"])


def test_lab_prepares_the_workspace_then_starts_jupyterlab_on_the_first_chapter(tmp_path, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(workspace, "launch", lambda ws, notebook, browser: started.append((ws, notebook, browser)) or 0)
    assert main(["lab", str(tmp_path / "ws"), "--chapters", "03", "01", "--no-browser"]) == 0
    assert started == [(tmp_path / "ws", "03_backprop_from_scratch.ipynb", False)]
    assert "added 03_backprop_from_scratch.ipynb" in capsys.readouterr().out


def test_version_comes_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"bigmodel-lessons {package_version()}" == f"bigmodel-lessons {__version__}"
