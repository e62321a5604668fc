"""The learner's workspace (``bigmodel-lessons lab``): the workbook notebooks, copied out of the package and kept
across upgrades.

``.bigmodel-lessons.json`` in the workspace records, per notebook, the SHA-256 of the latest version given to the
learner. When the package has a newer version, a notebook whose file still has that hash is untouched and is
replaced; one that differs was changed by the learner and is never overwritten: the newer version goes beside it
as ``<name>-new.ipynb``, once. A notebook the learner deleted is copied afresh, and new chapters are added.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .chapters import Chapter, chapter, ready_chapters
from .course import NOTEBOOK_DIR
from .notebooks import student_copy

MANIFEST = ".bigmodel-lessons.json"


@dataclass
class Update:
    """What :func:`prepare_workspace` did; every list holds notebook file names, in chapter order."""

    workspace: Path
    notebooks: list[str] = field(default_factory=list)  # every workbook notebook asked for
    added: list[str] = field(default_factory=list)  # first run, a new chapter, or deleted by the learner
    updated: list[str] = field(default_factory=list)  # untouched by the learner: replaced by the newer version
    newer: list[str] = field(default_factory=list)  # changed by the learner: the newer version is beside it

    def __str__(self) -> str:
        lines = [f"added {name}" for name in self.added]
        lines += [f"updated {name} (you had not changed it)" for name in self.updated]
        lines += [f"kept your {name}; its newer version is {new_name(name)}: compare the two and copy what you need"
                  for name in self.newer]
        lines.append(f"{self.workspace}: {len(self.notebooks)} notebooks, {len(self.added + self.updated)} of them "
                     "new or updated; a notebook you changed is never overwritten")
        return "\n".join(lines)


def new_name(name: str) -> str:
    """Where the newer version of a notebook the learner changed goes: "03_x.ipynb" → "03_x-new.ipynb"."""
    return name.removesuffix(".ipynb") + "-new.ipynb"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def workbook_chapters(names: list[str] | None = None) -> list[Chapter]:
    """The chapters named (stems or numbers), or every ready chapter; a clear error for an unknown one."""
    chapters = [chapter(name) for name in names] if names else ready_chapters()
    missing = [c.stem for c in chapters if not (NOTEBOOK_DIR / c.notebook).exists()]
    if missing:
        ready = ", ".join(c.stem for c in ready_chapters())
        raise ValueError(f"No notebook yet for chapter(s) {', '.join(missing)}; the ready ones are: {ready}.")
    return chapters


def workbook_bytes(ch: Chapter) -> bytes:
    """The learner's form of a chapter's notebook (exercises unsolved), as written into the workspace."""
    return nbformat.writes(student_copy(nbformat.read(NOTEBOOK_DIR / ch.notebook, as_version=4))).encode()


def _make_folder(workspace: Path) -> None:
    if workspace.exists() and not workspace.is_dir():
        raise ValueError(f"Workspace {workspace} is a file, not a folder; name a folder (new or existing) instead, "
                         "e.g. bigmodel-lessons lab my-workbook")
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"Cannot create the workspace folder {workspace} ({err.strerror}); name a folder you can "
                         "write to, e.g. one in your home folder.") from err
    if not os.access(workspace, os.W_OK):
        raise ValueError(f"Workspace folder {workspace} is read-only; make it writable (chmod u+w {workspace}) "
                         "or name another folder.")


def _read_manifest(path: Path) -> dict[str, str]:
    """Notebook file name → SHA-256 of the latest version given to the learner (empty for a new workspace)."""
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); delete it and run again: your notebooks are kept, "
                         "and each one that differs from the newest version gets a -new.ipynb beside it.") from err


def prepare_workspace(workspace: Path, names: list[str] | None = None) -> Update:
    """Create or update the learner's workspace with the workbook notebooks of ``names`` (default: every ready
    chapter), never overwriting a notebook the learner changed; see the module docstring."""
    chapters = workbook_chapters(names)
    _make_folder(workspace)
    manifest_path = workspace / MANIFEST
    written = _read_manifest(manifest_path)
    update = Update(workspace, [c.notebook for c in chapters])
    for ch in chapters:
        fresh, target = workbook_bytes(ch), workspace / ch.notebook
        current = sha256(target.read_bytes()) if target.exists() else None
        given, newest = written.get(ch.notebook), sha256(fresh)
        written[ch.notebook] = newest
        if current is None:
            target.write_bytes(fresh)
            update.added.append(ch.notebook)
        elif newest in (current, given):
            pass  # the learner has this version (maybe edited, maybe beside as -new)
        elif current == given:  # untouched since we gave it
            target.write_bytes(fresh)
            update.updated.append(ch.notebook)
        else:  # the learner's work stays; the newer version goes beside it
            (workspace / new_name(ch.notebook)).write_bytes(fresh)
            update.newer.append(ch.notebook)
    manifest_path.write_text(json.dumps(written, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return update


def launch(workspace: Path, notebook: str, browser: bool = True) -> int:
    """Start JupyterLab in ``workspace`` on ``notebook`` and return its exit code when it stops.

    It runs on this Python, so the notebooks' ``python3`` kernel is the course's environment, with the course
    kernel's setting of fewer glibc malloc arenas (TensorFlow's threads otherwise inflate its memory)."""
    cmd = [sys.executable, "-m", "jupyterlab", notebook] + ([] if browser else ["--no-browser"])
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and some classroom VMs run as root; make lab does the same
    env = {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}
    server = subprocess.Popen(cmd, cwd=workspace, env=env)
    while True:
        try:
            return server.wait()
        except KeyboardInterrupt:  # JupyterLab got the Ctrl+C too, and asks or shuts down by itself
            continue
