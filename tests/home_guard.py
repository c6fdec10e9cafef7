"""The test run leaves the user's home as it was (README: "What the test command installs").

Two uses:

* a pytest plugin (``tests/conftest.py`` imports its hooks): at the start of the session it snapshots the real home's
  watched paths, then points ``HOME`` and the XDG base directories at a temporary home for every test and every
  process a test starts (removed at the end), and turns onnxruntime's telemetry off (``ORT_DISABLE_TELEMETRY``: a test
  module that imports onnxruntime before lenscribe would otherwise start it). At the end it compares the real home
  with the snapshot: anything written there fails the run, named.
* a command for ``scripts/test.sh``, around the whole run (installs, pytest, the editor clients' end-to-end tests)::

      python3 tests/home_guard.py snapshot FILE    # before
      python3 tests/home_guard.py check FILE       # after: exit 1 and the list when the home changed

What is watched: a new entry at the top of the home, and anything added, changed or removed under ``WATCHED``, except
the caches the README names (``NAMED_CACHES``: pip's and npm's download caches and ``$LENSCRIBE_E2E_CACHE``). Other
existing top-level directories (a toolchain's, an editor's) are not walked. ``LENSCRIBE_HOME_GUARD=0`` turns the
check (not the temporary home) off, for a machine where other programs write to the same home meanwhile.

Standard library only: ``scripts/test.sh`` runs it with the system Python before the virtual environment exists.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

WATCHED = (".config", ".local", ".cache", ".ray", ".pki", ".vscode", ".vscode-server", ".code-server")
# Caches the README names as the test command's (relative to the home; $LENSCRIBE_E2E_CACHE wherever it is).
NAMED_CACHES = (".cache/pip", ".npm", ".cache/lenscribe-e2e")
XDG_DIRS = {"XDG_CONFIG_HOME": "config", "XDG_CACHE_HOME": "cache", "XDG_DATA_HOME": "data", "XDG_STATE_HOME": "state"}
REAL_HOME_ENV = "LENSCRIBE_TEST_REAL_HOME"  # the real home, for the tests that check the redirection
ENABLE_ENV = "LENSCRIBE_HOME_GUARD"

Snapshot = dict[str, list[int]]  # path below the home -> [size, mtime_ns]; a directory -> [-1, 0]


def _skipped(home: Path) -> set[Path]:
    skipped = {home / c for c in NAMED_CACHES}
    if os.environ.get("LENSCRIBE_E2E_CACHE"):
        skipped.add(Path(os.environ["LENSCRIBE_E2E_CACHE"]).expanduser())
    return {p.resolve() if p.exists() else p for p in skipped}


def snapshot(home: Path) -> Snapshot:
    """The watched paths of ``home``: every top-level entry (name only) and everything under ``WATCHED``."""
    out: Snapshot = {}
    if not home.is_dir():
        return out
    skipped = _skipped(home)
    cache_roots = {c.split("/")[0] for c in NAMED_CACHES}  # ~/.npm, and ~/.cache: walked below, the named ones aside
    for entry in os.scandir(home):
        if entry.name not in cache_roots:
            out[entry.name] = [-1, 0]
    roots = [home / name for name in WATCHED]
    for root in roots:
        if not root.is_dir() or root.is_symlink():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if here / d not in skipped and (here / d).resolve() not in skipped]
            for name in dirnames:
                out[(here / name).relative_to(home).as_posix()] = [-1, 0]
            for name in filenames:
                path = here / name
                try:
                    st = path.lstat()
                except OSError:  # gone meanwhile
                    continue
                out[path.relative_to(home).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs, one line each: ``added .config/code-server/config.yaml``."""
    out = [f"added {p}" for p in sorted(after.keys() - before.keys())]
    out += [f"removed {p}" for p in sorted(before.keys() - after.keys())]
    out += [f"changed {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return out


def real_home() -> Path:
    """The home the user's programs write to: $HOME as the run started."""
    return Path(os.environ.get(REAL_HOME_ENV) or Path.home())


def enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "1") != "0"


# ------------------------------------------------------------------------------------------------ the pytest plugin

_STATE: dict[str, object] = {}


def pytest_configure(config) -> None:
    if _STATE:  # configured once per process
        return
    home = real_home()
    _STATE["home"] = home
    _STATE["before"] = snapshot(home) if enabled() else None
    _STATE["environ"] = {k: os.environ.get(k) for k in ("HOME", REAL_HOME_ENV, "ORT_DISABLE_TELEMETRY", *XDG_DIRS)}
    temp = Path(tempfile.mkdtemp(prefix="lenscribe-test-home-"))
    _STATE["temp"] = temp
    os.environ[REAL_HOME_ENV] = str(home)
    os.environ["HOME"] = str(temp)
    for var, name in XDG_DIRS.items():
        (temp / name).mkdir()
        os.environ[var] = str(temp / name)
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"


def pytest_sessionfinish(session, exitstatus) -> None:
    before = _STATE.get("before")
    if not isinstance(before, dict):
        return
    home = _STATE["home"]
    assert isinstance(home, Path)
    found = changes(before, snapshot(home))
    if not found:
        return
    lines = [f"the tests wrote to the real home {home} (tests use a temporary HOME and XDG directories; "
             f"{ENABLE_ENV}=0 turns this check off):", *(f"  {line}" for line in found[:50])]
    if len(found) > 50:
        lines.append(f"  ... and {len(found) - 50} more")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "home guard", red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines), file=sys.stderr)
    session.exitstatus = 1


def pytest_unconfigure(config) -> None:
    environ = _STATE.get("environ")
    if isinstance(environ, dict):
        for key, value in environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    temp = _STATE.get("temp")
    if isinstance(temp, Path):
        shutil.rmtree(temp, ignore_errors=True)
    _STATE.clear()


# ------------------------------------------------------------------------------------------------------ the command


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("snapshot", "check"):
        print("usage: home_guard.py snapshot|check FILE", file=sys.stderr)
        return 2
    command, file = argv
    home = real_home()
    if command == "snapshot":
        Path(file).write_text(json.dumps(snapshot(home)), encoding="utf-8")
        return 0
    found = changes(json.loads(Path(file).read_text(encoding="utf-8")), snapshot(home))
    if not found or not enabled():
        return 0
    print(f"the test command wrote to {home} outside the caches the README names ({', '.join(NAMED_CACHES)}, "
          f"$LENSCRIBE_E2E_CACHE; {ENABLE_ENV}=0 turns this check off):", file=sys.stderr)
    for line in found[:50]:
        print(f"  {line}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
