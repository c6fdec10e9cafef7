"""lenscribe.files: the workspace walk (ignore files as git reads them, no workspace command run, no FIFO, device or
symlink opened) and reading one source file."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

from lenscribe.files import GitIgnore, list_source_files, read_source

# ---------------------------------------------------------------------------------------------------- files


def test_gitignore_rules():
    gi = GitIgnore.parse("# comment\n*.log\n!keep.log\nbuild/\n/top.py\ndocs/**/gen\n**/tmp\nsp\\ ace \n")
    assert gi.match("a.log", False) is True and gi.match("x/keep.log", False) is False
    assert gi.match("build", True) is True and gi.match("build", False) is None
    assert gi.match("top.py", False) is True and gi.match("sub/top.py", False) is None
    assert gi.match("docs/gen", True) and gi.match("docs/a/b/gen", False)
    assert gi.match("a/b/tmp", True) and gi.match("tmp", False)
    assert gi.match("src/main.py", False) is None
    assert gi.match("sp ace", False) is True


def _tree(root):
    for rel, text in {
        "a.py": "x", "sub/b.py": "x", "sub/skip.log": "x", "sub/.gitignore": "*.log\n!keep.log\n",
        "sub/keep.log": "x", "out/c.py": "x", ".gitignore": "out/\n", "node_modules/d.js": "x",
        ".venv/lib/e.py": "x",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_walk_respects_gitignore(tmp_path):
    _tree(tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in list_source_files(tmp_path)]
    assert rel == [".gitignore", "a.py", "sub/.gitignore", "sub/b.py", "sub/keep.log"]


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_git_repository(tmp_path):
    _tree(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    rel = [p.relative_to(tmp_path).as_posix() for p in list_source_files(tmp_path, lambda p: p.suffix == ".py")]
    assert rel == ["a.py", "sub/b.py"]


def test_repository_excludes_above_the_workspace(tmp_path, monkeypatch):
    """A workspace inside a repository: its .git/info/exclude, the .gitignore files above the workspace and the
    user's global ignore file apply, as ``git ls-files --exclude-standard`` would apply them."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "config" / "git").mkdir(parents=True)
    (tmp_path / "config" / "git" / "ignore").write_text("*.global.py\n")
    (tmp_path / "repo" / ".git" / "info").mkdir(parents=True)
    (tmp_path / "repo" / ".git" / "info" / "exclude").write_text("secret.py\n")
    (tmp_path / "repo" / ".gitignore").write_text("gen/\n")
    (tmp_path / "repo" / "pkg").mkdir()
    (tmp_path / "repo" / "pkg" / ".gitignore").write_text("*.tmp.py\n!keep.tmp.py\n")
    ws = tmp_path / "repo" / "pkg" / "ws"
    for rel in ["a.py", "secret.py", "gen/g.py", "x.tmp.py", "keep.tmp.py", "y.global.py", "sub/secret.py"]:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x")
    assert [p.relative_to(ws).as_posix() for p in list_source_files(ws)] == ["a.py", "keep.tmp.py"]


def _hostile_repo(root, marker):
    """A git work tree whose config names commands: git would run them as the user (fsmonitor on any index read)."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "a.py").write_text("def f(x):\n    return x\n")
    subprocess.run(["git", "-C", str(root), "add", "a.py"], check=True)
    hook = f"echo pwned >> '{marker}'; false"
    for key, value in [("core.fsmonitor", hook), ("core.hooksPath", str(root)), ("diff.external", hook),
                       ("core.untrackedCache", "true")]:
        subprocess.run(["git", "-C", str(root), "config", key, value], check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_listing_runs_no_workspace_command(tmp_path):
    root = tmp_path / "ws"
    marker = tmp_path / "marker"
    _hostile_repo(root, marker)
    assert [p.name for p in list_source_files(root)] == ["a.py"]
    assert not marker.exists(), "listing the workspace ran the command in its .git/config"


def _unblock(fifo):
    """Lets a reader stuck in open() on ``fifo`` go: open the write end and close it (EOF)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def test_fifos_devices_and_symlinks_are_never_listed_or_opened(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("def f(x):\n    return x\n")
    os.mkfifo(ws / "pipe.py")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def secret():\n    return 1\n")
    (ws / "link.py").symlink_to(outside / "secret.py")
    (ws / "linkdir").symlink_to(outside)
    assert [p.name for p in list_source_files(ws)] == ["a.py"]

    results = {}

    def read(name, path):
        results[name] = read_source(path, 10_000, 10_000)

    readers = [threading.Thread(target=read, args=(name, path), daemon=True)
               for name, path in [("fifo", ws / "pipe.py"), ("device", "/dev/zero")]]
    for t in readers:
        t.start()
    for t in readers:
        t.join(5)
    _unblock(ws / "pipe.py")
    assert results.get("fifo") == (None, "not a regular file"), "read_source blocked in open() on a FIFO"
    assert results.get("device") == (None, "not a regular file")


def test_read_source(tmp_path):
    (tmp_path / "bin.py").write_bytes(b"abc\0def")
    (tmp_path / "big.py").write_text("x\n" * 1000)
    (tmp_path / "ok.py").write_bytes("def f():\n    return 'é'\n".encode())
    assert read_source(tmp_path / "bin.py", 10_000, 10_000) == (None, "binary file")
    assert "maxFileBytes" in read_source(tmp_path / "big.py", 100, 10_000)[1]
    assert "maxFileLines" in read_source(tmp_path / "big.py", 10_000, 10)[1]
    assert read_source(tmp_path / "ok.py", 10_000, 10_000)[0].endswith("'é'\n")
    assert read_source(tmp_path / "missing.py", 10, 10)[0] is None
