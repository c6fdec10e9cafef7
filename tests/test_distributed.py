"""`lenscribe summarize --executor ray`: a local Ray (1-2 actors) against the local executor, with the shipped model.

Both executors run the same batch plan (``plan_batches``: chunks by token length, --batch-size at a time), so each
chunk has the same batch-mates either way and the int8 model writes the same words; one onnxruntime thread on both
sides. Ray runs in a subprocess each (as a user runs it); ``scripts/test.sh`` installs the [ray] extra so these run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "lenscribe-small"
from gentree import generate_tree  # benchmarks/ is on pytest's pythonpath

# scripts/test.sh installs the [ray] extra, so these run in CI; a bare `pip install .[test]` skips them.
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the [ray] extra is not installed")


def lenscribe(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lenscribe", "summarize", *args, "--model", str(SHIPPED)],
                          check=False, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def summaries(out: dict) -> list[tuple]:
    return [(c["path"], c["name"], c["start_line"], c["end_line"], c["summary"]) for c in out["chunks"]]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree1000")
    generate_tree(root, 1000, per_file=50)
    return root


@pytest.fixture(scope="module")
def local_run(tree: Path, tmp_path_factory) -> dict:
    cache = tmp_path_factory.mktemp("local-cache")
    run = lenscribe(str(tree), "--json", "--threads", "1", "--cache-dir", str(cache))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@needs_ray
def test_ray_equals_local_and_its_bundle_warms_a_fresh_cache(tree: Path, local_run: dict, tmp_path: Path) -> None:
    assert len(local_run["chunks"]) == 1000 and not any(c["cached"] for c in local_run["chunks"])
    assert all(c["summary"] for c in local_run["chunks"])

    ray_cache = tmp_path / "ray-cache"
    run = lenscribe(str(tree), "--json", "--executor", "ray", "--workers", "2", "--threads", "1",
                  "--cache-dir", str(ray_cache))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)  # nothing of Ray's on stdout
    assert out["stats"]["executor"] == "ray" and out["stats"]["ray"]["workers"] == 2
    assert not any(c["cached"] for c in out["chunks"])
    assert out["summary_id"] == local_run["summary_id"]
    assert summaries(out) == summaries(local_run)

    bundle = tmp_path / "team.csb"
    exported = subprocess.run([sys.executable, "-m", "lenscribe", "cache", "export", str(bundle),
                               "--cache-dir", str(ray_cache)], capture_output=True, text=True, timeout=60, check=False)
    assert exported.returncode == 0, exported.stderr
    fresh = tmp_path / "fresh-cache"
    imported = subprocess.run([sys.executable, "-m", "lenscribe", "cache", "import", str(bundle),
                               "--cache-dir", str(fresh)], capture_output=True, text=True, timeout=60, check=False)
    assert imported.returncode == 0, imported.stderr
    assert "1000 summaries added" in imported.stderr

    warm = lenscribe(str(tree), "--json", "--threads", "1", "--cache-dir", str(fresh))
    assert warm.returncode == 0, warm.stderr
    out = json.loads(warm.stdout)
    assert all(c["cached"] for c in out["chunks"]) and out["stats"]["summarized"] == 0
    assert summaries(out) == summaries(local_run)


@needs_ray
def test_dead_ray_worker_is_retried_and_unreadable_files_skipped(tmp_path: Path) -> None:
    small = tmp_path / "small"
    generate_tree(small, 60, per_file=20, seed=1)
    gone = small / "pkg00" / "gone.py"
    gone.symlink_to(tmp_path / "missing.py")  # named on the command line (a walk leaves symlinks out): unreadable
    (small / "pkg00" / "blob.py").write_bytes(b"def f():\0\0\0")
    local = lenscribe(str(small), str(gone), "--json", "--threads", "1", "--no-cache")
    assert local.returncode == 0, local.stderr
    crash = tmp_path / "crashed"
    run = lenscribe(str(small), str(gone), "--json", "--executor", "ray", "--workers", "1", "--no-cache",
                  env={"LENSCRIBE_RAY_CRASH_ONCE": str(crash)})
    assert run.returncode == 0, run.stderr
    assert crash.is_file() and int(crash.read_text()) > 0  # an actor process did exit mid-batch
    out = json.loads(run.stdout)
    assert summaries(out) == summaries(json.loads(local.stdout)) and len(out["chunks"]) == 60
    assert "gone.py: unreadable: No such file or directory" in run.stderr and "blob.py: binary file" in run.stderr
    assert out["stats"]["skipped_files"] == 2


@needs_ray
def test_a_batch_that_fails_every_time_is_a_clear_error(tmp_path: Path) -> None:
    # The crash hook cannot create its file: every actor call raises (an error in the worker, not a dead process)
    src = tmp_path / "src"
    generate_tree(src, 16, per_file=16, seed=3)
    run = lenscribe(str(src), "--executor", "ray", "--workers", "1", "--cache-dir", str(tmp_path / "cache"),
                  env={"LENSCRIBE_RAY_CRASH_ONCE": str(tmp_path / "no-such-dir" / "x")})
    assert run.returncode == 1 and run.stdout == ""
    # (how many batches: the chunks over --batch-size, 32 by default, in Ray blocks)
    assert re.search(r"lenscribe: the Ray run failed after 0 of \d+ batches: FileNotFoundError", run.stderr)
    assert "run again to resume" in run.stderr


HEAD = """
import sys, time, ray
ray.init(num_cpus=1, include_dashboard=False, object_store_memory=256 * 1024 * 1024)
print(ray.get_runtime_context().gcs_address, flush=True)
time.sleep(300)
"""


@needs_ray
def test_joins_a_running_cluster_at_its_address(tmp_path: Path) -> None:
    # A one-CPU "cluster" started by another process (Ray's token auth off on both sides: a test cluster of its own)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    head = subprocess.Popen([sys.executable, "-c", HEAD], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    try:
        address = head.stdout.readline().strip()
        assert address, "the head process did not start Ray"
        src = tmp_path / "src"
        generate_tree(src, 24, per_file=12, seed=2)
        local = lenscribe(str(src), "--json", "--threads", "1", "--no-cache")
        run = lenscribe(str(src), "--json", "--executor", "ray", "--address", address, "--no-cache",
                      env={"RAY_AUTH_MODE": "disabled"})
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout)
        assert out["stats"]["ray"]["workers"] == 1  # the cluster's one CPU
        assert summaries(out) == summaries(json.loads(local.stdout))
    finally:
        head.terminate()  # its ray.init's cluster goes with it
        head.wait(timeout=60)


@needs_ray
def test_unreachable_address_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "a.py").write_text("def f(x):\n    return x\n")
    started = time.monotonic()
    run = lenscribe(str(tmp_path), "--executor", "ray", "--address", f"127.0.0.1:{port}", timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in run.stderr
    assert time.monotonic() - started < 60


@needs_ray
def test_an_address_that_never_answers_fails_within_the_join_timeout(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts connections, never speaks Ray
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        (tmp_path / "a.py").write_text("def f(x):\n    return x\n")
        started = time.monotonic()
        run = lenscribe(str(tmp_path), "--executor", "ray", "--address", f"127.0.0.1:{port}",
                      env={"LENSCRIBE_RAY_JOIN_TIMEOUT": "5"}, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert f"cannot join the Ray cluster at 127.0.0.1:{port}: no answer within 5s" in run.stderr
    assert time.monotonic() - started < 60


def test_missing_ray_is_a_clear_error(monkeypatch, tmp_path: Path, capsys) -> None:
    from lenscribe.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as without the extra
    (tmp_path / "a.py").write_text("def f(x):\n    return x\n")
    assert main(["summarize", str(tmp_path), "--executor", "ray", "--model", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert "--executor ray needs Ray" in err and "pip install 'lenscribe[ray]'" in err


def test_address_without_ray_executor_is_refused(tmp_path: Path, capsys) -> None:
    from lenscribe.cli import main

    assert main(["summarize", str(tmp_path), "--address", "auto", "--model", str(SHIPPED)]) == 2
    assert "need --executor ray" in capsys.readouterr().err


def test_a_killed_run_resumes_from_the_cache(tree: Path, local_run: dict, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "lenscribe", "summarize", str(tree), "--json", "--threads", "1",
                             "--cache-dir", str(cache), "--model", str(SHIPPED)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = cache / "summaries.sqlite3"
    deadline = time.monotonic() + 120
    rows = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.is_file():
                try:
                    with sqlite3.connect(db, timeout=1) as con:
                        rows = con.execute("SELECT COUNT(*) FROM summaries").fetchone()[0]
                except sqlite3.Error:
                    rows = 0
                if rows >= 16:  # two batches in: kill it as a crash or a preempted CI job would
                    proc.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.05)
    finally:
        rc = proc.wait(timeout=60)
    assert rc == -signal.SIGKILL, f"the run ended by itself (rc {rc}) before it could be killed"
    with sqlite3.connect(db) as con:
        kept = con.execute("SELECT COUNT(*) FROM summaries").fetchone()[0]
    assert 16 <= kept < 1000 and kept % 8 == 0  # whole batches, each written as it completed

    resumed = lenscribe(str(tree), "--json", "--threads", "1", "--cache-dir", str(cache))
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["stats"]["cached"] == kept and out["stats"]["summarized"] == 1000 - kept
    assert all(c["summary"] for c in out["chunks"])
    assert [c[:4] for c in summaries(out)] == [c[:4] for c in summaries(local_run)]
