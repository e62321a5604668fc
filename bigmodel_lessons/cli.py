"""The ``bigmodel-lessons`` command: check, data fetch/info, course, student, normalize."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
    return 0 if all(r.status == "ok" for r in results) else 1


def _student(args) -> int:
    from .notebooks import write_student_copies

    for path in write_student_copies(Path(args.out)):
        print(f"wrote {path}")
    return 0


def _normalize(args) -> int:
    from .notebooks import normalise

    for name in args.notebooks:
        normalise(Path(name))
        print(f"normalised {name}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bigmodel-lessons", description="The bigmodel-lessons course helper.")
    sub = p.add_subparsers(dest="command", required=True)
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
    s.set_defaults(run=_student)
    n = sub.add_parser("normalize", help="maintainers: execute fast and keep only nbval-checked outputs")
    n.add_argument("notebooks", nargs="+", help="notebook paths")
    n.set_defaults(run=_normalize)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, RuntimeError) as err:  # bad names, bad data: say what and how to fix, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
