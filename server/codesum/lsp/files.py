"""Which files of a workspace to summarize, and reading them safely.  No LSP here.

``list_source_files(root)`` asks git (``git ls-files --cached --others --exclude-standard``) when ``root`` is inside
a work tree, which honours every .gitignore, .git/info/exclude and the global excludes; elsewhere it walks the tree
with a small .gitignore matcher (nested .gitignore files, ``!`` negation, ``/`` anchoring, ``**``, dir-only rules).
``read_source(path)`` refuses binary files (a NUL in the first 8 KiB) and files over the size or line limits.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["SKIP_DIRS", "GitIgnore", "list_source_files", "read_source"]

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache"})
BINARY_PROBE = 8192
GIT_TIMEOUT_S = 30


# ---------------------------------------------------------------------------------------------------- reading


def read_source(path: Path | str, max_bytes: int, max_lines: int) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it is skipped): too large, too many lines, binary, unreadable."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, f"{size} bytes > maxFileBytes {max_bytes}"
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        return None, f"unreadable: {e.strerror or e}"
    if b"\0" in raw[:BINARY_PROBE]:
        return None, "binary"
    text = raw.decode("utf-8", errors="replace")
    lines = text.count("\n") + 1
    if lines > max_lines:
        return None, f"{lines} lines > maxFileLines {max_lines}"
    return text, None


# ---------------------------------------------------------------------------------------------------- listing


def list_source_files(root: Path | str, keep: Callable[[Path], bool] = lambda p: True) -> list[Path]:
    """Files under ``root`` that are not ignored and that ``keep`` accepts (sorted, absolute)."""
    root = Path(root).resolve()
    if not root.is_dir():
        return []
    files = _git_files(root)
    if files is None:
        files = _walk_files(root)
    return sorted(p for p in files if keep(p))


def _git_files(root: Path) -> list[Path] | None:
    git = shutil.which("git")
    if git is None or not _in_git_work_tree(root):
        return None
    try:
        out = subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, timeout=GIT_TIMEOUT_S, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        log.info("git ls-files failed in %s (%s); walking the tree instead", root, e)
        return None
    paths = []
    for rel in out.decode("utf-8", "surrogateescape").split("\0"):
        if rel and SKIP_DIRS.isdisjoint(rel.split("/")[:-1]):  # vendored trees even when not ignored
            p = root / rel
            if p.is_file() and not p.is_symlink():  # tracked-but-deleted files and submodules are not files
                paths.append(p)
    return paths


def _in_git_work_tree(root: Path) -> bool:
    for d in (root, *root.parents):
        if (d / ".git").exists():
            return True
    return False


def _walk_files(root: Path) -> list[Path]:
    out: list[Path] = []
    ignores: dict[Path, GitIgnore] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        gi = here / ".gitignore"
        if gi.is_file():
            try:
                ignores[here] = GitIgnore.parse(gi.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                pass
        chain = [(base, rules) for base, rules in ignores.items() if base == here or base in here.parents]

        def ignored(p: Path, is_dir: bool, chain: list[tuple[Path, GitIgnore]] = chain) -> bool:
            verdict = False
            for base, rules in chain:  # outer files first; deeper .gitignore files override
                v = rules.match(p.relative_to(base).as_posix(), is_dir)
                if v is not None:
                    verdict = v
            return verdict

        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not ignored(here / d, True)
                             and not (here / d).is_symlink())
        for name in sorted(filenames):
            p = here / name
            if not ignored(p, False) and not p.is_symlink():
                out.append(p)
    return out


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


class GitIgnore:
    """The rules of one .gitignore file; ``match(path relative to its directory, is_dir)`` -> True/False/None."""

    def __init__(self, rules: Iterable[_Rule]) -> None:
        self.rules = list(rules)

    @classmethod
    def parse(cls, text: str) -> GitIgnore:
        rules = []
        for line in text.splitlines():
            rule = _compile(line)
            if rule is not None:
                rules.append(rule)
        return cls(rules)

    def match(self, rel: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a ``!`` rule, None: no rule applies (last match wins)."""
        verdict = None
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(rel):
                verdict = not rule.negate
        return verdict


def _compile(line: str) -> _Rule | None:
    if not line.strip() or line.startswith("#"):
        return None
    p = line.rstrip("\n\r")
    while p.endswith(" ") and not p.endswith("\\ "):
        p = p[:-1]
    negate = p.startswith("!")
    if negate or p.startswith("\\"):
        p = p[1:]
    dir_only = p.endswith("/")
    p = p.rstrip("/")
    if not p:
        return None
    anchored = "/" in p
    p = p.lstrip("/")
    body = _translate(p)
    if not anchored:
        body = "(?:.*/)?" + body
    return _Rule(re.compile("^" + body + "$", re.DOTALL), negate, dir_only)


def _translate(p: str) -> str:
    out = []
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if p.startswith("**/", i) and (i == 0 or p[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif p.startswith("**", i) and i + 2 == n and (i == 0 or p[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = p.find("]", i + 2 if p[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if j < 0:
                out.append(re.escape(c))
                i += 1
                continue
            cls = p[i + 1 : j]
            if cls[:1] in ("!", "^"):
                cls = "^" + cls[1:]
            out.append("[" + cls.replace("\\", "\\\\") + "]")
            i = j + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(p[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)
