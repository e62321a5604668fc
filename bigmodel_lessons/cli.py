"""The ``bigmodel-lessons`` command: lab, check, data fetch/info, course, student, grade, site, serve, normalize."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .env import package_version  # not the package's __init__: `serve` starts without TensorFlow

DEFAULT_WORKSPACE = "bigmodel-lessons-workbook"


def _lab(args) -> int:
    from .workspace import launch, prepare_workspace

    update = prepare_workspace(Path(args.workspace), args.chapters)
    print(update)
    if args.no_launch:
        return 0
    print(f"starting JupyterLab in {args.workspace} (stop it with Ctrl+C)", flush=True)
    return launch(Path(args.workspace), update.notebooks[0], browser=not args.no_browser)


def _check(args) -> int:
    from .env import check_environment

    report = check_environment()
    print(report)
    print(f"\n{report.failed} requirement(s) failed." if report.failed else "\nAll requirements met.")
    return 1 if report.failed else 0


def _data(args) -> int:
    from . import data

    if args.action == "info":
        for name, where in data.planned_sources().items():
            print(f"{name:20s} {where}")
        return 0
    status = data.fetch(args.names)
    for name, text in status.items():
        print(f"{name:20s} {text}")
    return 1 if any(text.startswith("FAILED") for text in status.values()) else 0


def _course(args) -> int:
    from .course import run_course

    results = run_course(args.notebooks, fast=not args.full, out_dir=Path(args.out))
    return 0 if all(r.status == "ok" and not r.problems for r in results) else 1


def _student(args) -> int:
    from .notebooks import write_student_copies

    written = write_student_copies(Path(args.out), keep_existing=args.keep)
    for path in written:
        print(f"wrote {path}")
    if args.keep:
        print(f"{args.out}/: {len(written)} new notebook(s); notebooks already there were kept (your work). "
              "Delete one to get a fresh copy.")
    return 0


def _site(args) -> int:
    from .website import build_site

    print(f"wrote {build_site(fast=not args.full)}")
    return 0


def _grade(args) -> int:
    from .grading import grade

    grades = grade(Path(args.submissions), Path(args.out), timeout=args.timeout, jobs=args.jobs)
    print((Path(args.out) / "grades.md").read_text())
    print(f"wrote {args.out}/grades.csv and {args.out}/grades.md ({len(grades)} submissions)")
    return 0


def _serve(args) -> int:
    from .serving import ServingSettings, serve

    if args.host != "127.0.0.1":
        print(f"warning: listening on {args.host}: other machines on the network can reach this server "
              "(no authentication, no TLS).", file=sys.stderr)
    try:
        serve(args.model_path, host=args.host, port=args.port, settings=ServingSettings(log_file=args.log_file))
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _normalize(args) -> int:
    from .notebooks import normalise

    for name in args.notebooks:
        normalise(Path(name))
        print(f"normalised {name}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bigmodel-lessons", description="The bigmodel-lessons course helper.")
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="your own copy of the course (exercises unsolved), opened in JupyterLab",
                         description="Create or update your workspace with the workbook notebooks and start "
                         "JupyterLab there. Run it again after an upgrade: new chapters are added, a notebook you "
                         "changed is never overwritten (its newer version is written beside it as NAME-new.ipynb).")
    lab.add_argument("workspace", nargs="?", default=DEFAULT_WORKSPACE,
                     help=f"your workspace folder, created if needed (default: ./{DEFAULT_WORKSPACE})")
    lab.add_argument("--chapters", nargs="+", metavar="CHAPTER",
                     help="only these chapters, stems or numbers (e.g. 00 03); the first one opens")
    lab.add_argument("--no-launch", action="store_true", help="only create or update the workspace")
    lab.add_argument("--no-browser", action="store_true", help="start JupyterLab without opening a browser "
                     "(open the printed URL yourself, e.g. on a remote machine)")
    lab.set_defaults(run=_lab)
    sub.add_parser("check", help="environment report, one [OK]/[FAIL] line per requirement").set_defaults(run=_check)
    d = sub.add_parser("data", help="fetch datasets into the caches, or show where each loader reads from")
    d.add_argument("action", choices=["fetch", "info"])
    d.add_argument("names", nargs="*", help="datasets to fetch (default: all)")
    d.set_defaults(run=_data)
    c = sub.add_parser("course", help="execute notebooks headless with papermill and print a table")
    c.add_argument("notebooks", nargs="*", help="chapter stems or numbers (default: every ready chapter)")
    c.add_argument("--full", action="store_true", help="full-length training instead of fast mode")
    c.add_argument("--out", default="build/executed", help="folder for executed notebooks and metrics")
    c.set_defaults(run=_course)
    s = sub.add_parser("student", help="write student copies (solutions replaced by TODO stubs)")
    s.add_argument("--out", default="build/student")
    s.add_argument("--keep", action="store_true", help="keep notebooks already in --out (a learner's workbook)")
    s.set_defaults(run=_student)
    g = sub.add_parser("grade", help="workshops: run every submitted notebook and tabulate its ✓/✗ per exercise")
    g.add_argument("submissions", help="folder of submitted notebooks (sub-folders included)")
    g.add_argument("--out", default="build/grades", help="folder for grades.csv, grades.md and executed copies")
    g.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    g.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time (default 1)")
    g.set_defaults(run=_grade)
    w = sub.add_parser("site", help="the course website (Jupyter Book) in build/site/ from the executed notebooks")
    w.add_argument("--full", action="store_true", help="publish full-length results (executes into build/executed-full)")
    w.set_defaults(run=_site)
    v = sub.add_parser("serve", help="serve a model (.onnx, .keras or SavedModel folder) over HTTP with uvicorn")
    v.add_argument("model_path")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only); 0.0.0.0 listens "
                   "on every network interface")
    v.add_argument("--log-file", help="append one JSON line per prediction (confidence, input statistics)")
    v.set_defaults(run=_serve)
    n = sub.add_parser("normalize", help="maintainers: execute fast and keep only nbval-checked outputs")
    n.add_argument("notebooks", nargs="+", help="notebook paths")
    n.set_defaults(run=_normalize)
    return p


def main(argv: list[str] | None = None) -> int:
    from .course import skip_iri_grammar

    skip_iri_grammar()
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, RuntimeError) as err:  # bad names, bad data: say what and how to fix, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
