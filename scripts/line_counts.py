#!/usr/bin/env python3
"""Line counts of the Python modules of server/lenscribe and models/lenscribe_training, for the project's notes.

    python scripts/line_counts.py                  "lines path" for every module, sorted by path
    python scripts/line_counts.py --compare REV    "before after change path" against git revision REV (a module
                                                   missing on one side counts as "-"), then the totals
    python scripts/line_counts.py --over 500       only the modules over 500 lines

Lines are counted as tests/test_architecture.py counts them (str.splitlines of the file's text).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("server/lenscribe", "models/lenscribe_training")


def count(text: str) -> int:
    return len(text.splitlines())


def current() -> dict[str, int]:
    out = {}
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            if "__pycache__" not in path.parts:
                out[path.relative_to(REPO).as_posix()] = count(path.read_text(encoding="utf-8"))
    return out


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def at(rev: str) -> dict[str, int]:
    """The same counts at git revision ``rev`` (git ls-tree + git show REV:path)."""
    names = _git("ls-tree", "-r", "--name-only", rev, "--", *ROOTS).split("\n")
    return {name: count(_git("show", f"{rev}:{name}")) for name in sorted(names) if name.endswith(".py")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", metavar="REV", help="show before (at REV) and after (the working tree)")
    parser.add_argument("--over", type=int, default=0, metavar="N", help="only modules over N lines (either side)")
    args = parser.parse_args(argv)
    now = current()
    if not args.compare:
        for path, n in sorted(now.items()):
            if n > args.over:
                print(f"{n:6d} {path}")
        print(f"{sum(now.values()):6d} total ({len(now)} modules)")
        return 0
    try:
        before = at(args.compare)
    except subprocess.CalledProcessError as e:
        print(f"line_counts: git: {e.stderr.strip()}", file=sys.stderr)
        return 2
    print(f"{args.compare[:12]:>12} {'now':>6} {'change':>7} path")
    for path in sorted(before.keys() | now.keys()):
        b, a = before.get(path), now.get(path)
        if max(b or 0, a or 0) <= args.over:
            continue
        change = (a or 0) - (b or 0)
        print(f"{'-' if b is None else b:>12} {'-' if a is None else a:>6} {change:>+7d} {path}")
    total_b, total_a = sum(before.values()), sum(now.values())
    print(f"{total_b:>12} {total_a:>6} {total_a - total_b:>+7d} total ({len(before)} -> {len(now)} modules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
