"""Benchmark: execute every ready notebook in fast and full mode and print seconds, peak memory and metrics.

Usage: python bench/run.py [--fast-only] [NOTEBOOK ...]
Paste the printed tables, with the date, machine and command, into bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from bigmodel_lessons.course import run_course


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="chapter stems or numbers (default: every ready chapter)")
    parser.add_argument("--fast-only", action="store_true", help="skip the full-length runs")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d')} · {platform.node()} · {platform.processor() or platform.machine()}")
    for fast in (True,) if args.fast_only else (True, False):
        print(f"\n## {'fast' if fast else 'full'} mode")
        run_course(args.notebooks or None, fast=fast, out_dir=Path("build/bench") / ("fast" if fast else "full"))


if __name__ == "__main__":
    main()
