"""lenscribe.workspace: a workspace run and the walk before it are bounded (files, bytes, seconds, a cancel), and
the roots too broad to walk on open (disk roots, home)."""

from __future__ import annotations

import threading
import time

import pytest

from fake_engine import FakeSummarizer, _fake_manifest, make_engine
from lenscribe.files import list_source_files

# ---------------------------------------------------------------------------------------------------- workspace limits


def _ws_tree(root, n):
    root.mkdir()
    for i in range(n):
        (root / f"m{i:02d}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    return sorted(root.iterdir())


@pytest.mark.parametrize("limit", ["files", "bytes", "seconds"])
def test_a_workspace_run_stops_at_its_limits(tmp_path, monkeypatch, fake_model_dir, limit):
    """A workspace run over a disk root set out to summarize 59,381 files: files, bytes and time are bounded, and the
    report says which limit ended the run."""
    from lenscribe.workspace import summarize_paths

    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    paths = _ws_tree(tmp_path / "ws", 30)
    size = paths[0].stat().st_size
    fake = FakeSummarizer(delay=0.2 if limit == "seconds" else 0.0)
    settings = {"files": {"workspace_max_files": 10}, "bytes": {"workspace_max_bytes": 5 * size},
                "seconds": {"workspace_max_seconds": 1}}[limit]
    engine, _ = make_engine(tmp_path, fake_model_dir, fake, batch_size=1, **settings)
    try:
        assert engine.load_model() is None
        report = summarize_paths(engine, paths)
    finally:
        engine.shutdown()
    assert report.listed == 30 and report.stopped and report.stopped.startswith(f"workspaceMax{limit.title()}")
    if limit == "files":
        assert (report.files, report.chunks, report.summarized) == (10, 10, 10)
    elif limit == "bytes":
        assert report.chunks == 5 and report.bytes_read == 5 * size
    else:  # 30 files at 0.2 s each: stopped long before the end
        assert report.chunks < 30 and report.summarized < 30
    assert report.as_dict()["stopped"] == report.stopped
    # within the limits, no stop
    engine, _ = make_engine(tmp_path / "again", fake_model_dir, FakeSummarizer())
    try:
        assert engine.load_model() is None
        assert summarize_paths(engine, paths[:3]).stopped is None
    finally:
        engine.shutdown()


def test_broad_roots_are_disk_roots_and_home(tmp_path, monkeypatch):
    from lenscribe.workspace import broad_roots

    home = tmp_path / "home" / "me"
    (home / "proj").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    roots = ["/", str(home), str(tmp_path / "home"), str(home / "proj"), str(tmp_path / "other")]
    assert broad_roots(roots) == roots[:3]


def test_the_workspace_walk_ends_at_its_limit_or_when_told(tmp_path):
    """The walk itself is bounded: a disk root was listed whole (59,381 files) before a run began."""
    from lenscribe.workspace import workspace_files

    root = tmp_path / "ws"
    root.mkdir()
    for d in ("a", "b", "c"):
        _ws_tree(root / d, 10)
    assert len(workspace_files([root])) == 30
    first = workspace_files([root], limit=12)
    assert len(first) == 12 and first == sorted(first)
    assert len(workspace_files([root / "a", root / "b"], limit=15)) == 15  # the limit spans the roots
    assert len(list_source_files(root, limit=4)) == 4
    assert list_source_files(root, stop=lambda: True) == []
    assert workspace_files([root], deadline=time.monotonic() - 1) == []
    cancel = threading.Event()
    cancel.set()
    assert workspace_files([root], cancel=cancel) == []
