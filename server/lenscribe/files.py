"""Which files of a workspace to summarize, and reading them safely.  No LSP here.

``list_source_files(root)`` walks the tree with pathspec's gitignore rules (nested .gitignore files, ``!`` negation,
``/`` anchoring, ``**``, dir-only rules; a rule that cannot be compiled is skipped with a warning), also honouring
the .gitignore files above ``root`` up to its repository's top, that repository's .git/info/exclude and the user's
global ignore file (``$XDG_CONFIG_HOME/git/ignore``).  It never runs git: a workspace's .git/config can name commands
(core.fsmonitor, hooks) that git would run as the user.  Only regular files are listed: no symlinks, FIFOs, sockets or
devices.
``read_source(path)`` refuses anything but a regular file (it never opens a FIFO or a device), binary files (a NUL in
the first 8 KiB) and files over the size or line limits (``over_limits``, also for texts already in memory).
``lenscribe.sources`` reads and chunks with these.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from pathspec import GitIgnoreSpec
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from lenscribe.chunking.lines import line_count

log = logging.getLogger(__name__)

__all__ = ["SKIP_DIRS", "GitIgnore", "list_source_files", "over_limits", "read_source"]

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache"})
BINARY_PROBE = 8192
IGNORE_FILE_MAX_BYTES = 1 << 20


# ---------------------------------------------------------------------------------------------------- reading


def read_source(path: Path | str, max_bytes: int, max_lines: int) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it is skipped): too large, too many lines, binary, unreadable."""
    try:
        raw = _read_regular(path, max_bytes)
    except _TooLarge as e:
        return None, _too_large(e.size, max_bytes)
    except _NotRegular:
        return None, "not a regular file"
    except OSError as e:
        return None, f"unreadable: {e.strerror or e}"
    if b"\0" in raw[:BINARY_PROBE]:
        return None, "binary file"
    text = raw.decode("utf-8", errors="replace")
    why = over_limits(text, max_bytes, max_lines, size=len(raw))
    return (None, why) if why else (text, None)


def over_limits(text: str, max_bytes: int, max_lines: int, size: int | None = None) -> str | None:
    """Why ``text`` (``size`` bytes of UTF-8; counted when not given) is over the limits, or None."""
    if size is None:  # UTF-8 takes at most 4 bytes a character: count the bytes only when it may matter
        size = 0 if len(text) * 4 <= max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return _too_large(size, max_bytes)
    lines = line_count(text)
    if lines > max_lines:
        return f"{lines} lines > maxFileLines {max_lines}"
    return None


def _too_large(size: int, max_bytes: int) -> str:
    return f"{size} bytes > maxFileBytes {max_bytes}"


class _NotRegular(OSError):
    pass


class _TooLarge(OSError):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def _read_regular(path: Path | str, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of a regular file.  A FIFO, socket or device is refused before it is opened (opening a
    FIFO blocks until a writer comes), and the open is non-blocking in case it was swapped for one in between."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise _NotRegular(f"{path}: not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegular(f"{path}: not a regular file")
        if st.st_size > max_bytes:
            raise _TooLarge(st.st_size)
        return f.read(max_bytes + 1)


# ---------------------------------------------------------------------------------------------------- listing


def list_source_files(root: Path | str, keep: Callable[[Path], bool] = lambda p: True, *, limit: int | None = None,
                      stop: Callable[[], bool] | None = None) -> list[Path]:
    """Regular files under ``root`` that are not ignored and that ``keep`` accepts (sorted, absolute).  The walk ends
    once ``limit`` files are kept, or when ``stop()`` (asked once per directory) says so: what it found by then."""
    root = Path(root).resolve()
    if not root.is_dir():
        return []
    return sorted(_walk_files(root, keep, limit, stop))


def _is_regular(p: Path) -> bool:
    """A regular file that is not a symlink (a link may point anywhere, also outside the workspace)."""
    try:
        return stat.S_ISREG(os.lstat(p).st_mode)
    except OSError:
        return False


def _read_ignore_file(path: Path) -> GitIgnore | None:
    try:
        return GitIgnore.parse(_read_regular(path, IGNORE_FILE_MAX_BYTES).decode("utf-8", errors="replace"), str(path))
    except OSError:  # missing, not a regular file, too large, unreadable
        return None


def _outer_ignores(root: Path) -> list[tuple[Path, GitIgnore]]:
    """The rules that apply to ``root`` from outside it, weakest first: the global ignore file, the repository's
    .git/info/exclude, then the .gitignore files from the repository's top down to ``root``'s parent."""
    top = next((d for d in (root, *root.parents) if (d / ".git").exists()), None)
    if top is None:
        return []
    out: list[tuple[Path, GitIgnore]] = []
    config = Path(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"))
    for path in (config / "git" / "ignore", _git_dir(top) / "info" / "exclude"):
        rules = _read_ignore_file(path)
        if rules is not None:
            out.append((top, rules))
    above = [top / rel for rel in reversed(root.relative_to(top).parents)] if top != root else []  # top .. parent
    for d in above:
        rules = _read_ignore_file(d / ".gitignore")
        if rules is not None:
            out.append((d, rules))
    return out


def _git_dir(top: Path) -> Path:
    """``top/.git``, or the common directory a linked work tree's ``.git`` file points at (its info/exclude is
    there)."""
    dotgit = top / ".git"
    if dotgit.is_dir():
        return dotgit
    try:
        line = _read_regular(dotgit, 4096).decode("utf-8", "replace").strip()
    except OSError:
        return dotgit
    if not line.startswith("gitdir:"):
        return dotgit
    gitdir = (top / line[len("gitdir:"):].strip()).resolve()
    try:
        common = _read_regular(gitdir / "commondir", 4096).decode("utf-8", "replace").strip()
    except OSError:
        return gitdir
    return (gitdir / common).resolve()


def _walk_files(root: Path, keep: Callable[[Path], bool], limit: int | None,
                stop: Callable[[], bool] | None) -> list[Path]:
    out: list[Path] = []
    ignores = _outer_ignores(root)
    for dirpath, dirnames, filenames in os.walk(root):
        if stop is not None and stop():
            break
        here = Path(dirpath)
        rules = _read_ignore_file(here / ".gitignore")
        if rules is not None:
            ignores.append((here, rules))
        chain = [(base, rules) for base, rules in ignores if base == here or base in here.parents]

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
            if not ignored(p, False) and _is_regular(p) and keep(p):
                out.append(p)
                if limit is not None and len(out) >= limit:
                    return out
    return out


class GitIgnore:
    """The rules of one ignore file (pathspec's gitignore rules); ``match(path relative to its directory, is_dir)``
    -> True/False/None.  A rule that cannot be compiled (``[z-a]``: a bad range; a lone ``\\``) is skipped with a
    warning, as git skips it: an ignore file is input, it never stops a run."""

    def __init__(self, spec: GitIgnoreSpec) -> None:
        self.spec = spec

    @classmethod
    def parse(cls, text: str, source: str = "ignore file") -> GitIgnore:
        patterns = []
        for n, line in enumerate(text.split("\n"), 1):  # as git: lines end at LF, a CR before it is dropped
            line = line.removesuffix("\r")
            try:
                pattern = GitIgnoreSpecPattern(line)
            except (ValueError, re.error) as err:  # GitIgnorePatternError is a ValueError
                log.warning("%s:%d: ignore rule %r skipped: %s", source, n, line, err)
                continue
            if pattern.include is not None:  # not a blank line or a comment
                patterns.append(pattern)
        return cls(GitIgnoreSpec(patterns))

    def match(self, rel: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a ``!`` rule, None: no rule applies (last match wins)."""
        return self.spec.check_file(rel + "/" if is_dir else rel).include
