"""lenscribe.cache: LRU over SQLite, persistence, corruption handling, sharing between connections and processes."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from lenscribe.cache import CACHE_FILE, SummaryCache

MODEL = "tiny@0123456789abcdef"


def test_put_get_and_persistence(tmp_path):
    cache = SummaryCache.open(tmp_path)
    assert not cache.memory_only
    assert cache.get(MODEL, "h1") is None
    cache.put(MODEL, "h1", "Adds two numbers.\nReturns the sum.")
    assert cache.get(MODEL, "h1") == "Adds two numbers.\nReturns the sum."
    assert cache.get("other-model", "h1") is None  # keyed by model id too
    assert cache.stats.memory_hits == 1
    cache.close()

    again = SummaryCache.open(tmp_path)
    assert again.get(MODEL, "h1") == "Adds two numbers.\nReturns the sum."
    assert again.stats.disk_hits == 1 and again.stats.memory_hits == 0
    assert again.get(MODEL, "h1") is not None and again.stats.memory_hits == 1  # now in the LRU
    assert (tmp_path / CACHE_FILE).is_file()
    mode = sqlite3.connect(tmp_path / CACHE_FILE).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_get_many_and_empty_summary(tmp_path):
    cache = SummaryCache.open(tmp_path)
    cache.put_many(MODEL, [(f"h{i}", f"s{i}") for i in range(1200)] + [("blank", "")])
    cache.clear_memory()
    found = cache.get_many(MODEL, [f"h{i}" for i in range(0, 1300, 7)] + ["blank"])
    assert found == {**{f"h{i}": f"s{i}" for i in range(0, 1200, 7)}, "blank": ""}
    assert cache.stats.misses == sum(1 for i in range(0, 1300, 7) if i >= 1200)


def test_lru_evicts_memory_but_not_disk(tmp_path):
    cache = SummaryCache.open(tmp_path, capacity=3)
    for i in range(5):
        cache.put(MODEL, f"h{i}", f"s{i}")
    assert len(cache) == 3
    assert cache.get(MODEL, "h0") == "s0"
    assert cache.stats.disk_hits == 1


def test_memory_only_cache():
    cache = SummaryCache.open(None)
    assert cache.memory_only
    cache.put(MODEL, "h", "s")
    assert cache.get(MODEL, "h") == "s"


def test_unwritable_dir_falls_back_to_memory(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="lenscribe.cache"):
        cache = SummaryCache.open(blocker / "sub")
    assert cache.memory_only
    assert "memory only" in caplog.text
    cache.put(MODEL, "h", "s")
    assert cache.get(MODEL, "h") == "s"


def test_corrupt_file_is_moved_aside_and_rebuilt(tmp_path, caplog):
    path = tmp_path / CACHE_FILE
    path.write_bytes(b"this is certainly not an SQLite database\n" * 100)
    with caplog.at_level(logging.WARNING, logger="lenscribe.cache"):
        cache = SummaryCache.open(tmp_path)
    assert not cache.memory_only
    aside = list(tmp_path.glob(CACHE_FILE + ".corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is certainly not")
    assert cache.moved_aside == aside
    assert "moved it to" in caplog.text
    cache.put(MODEL, "h", "s")
    cache.close()
    assert SummaryCache.open(tmp_path).get(MODEL, "h") == "s"


def test_truncated_database_is_moved_aside(tmp_path):
    cache = SummaryCache.open(tmp_path)
    cache.put_many(MODEL, [(f"h{i}", "x" * 200) for i in range(500)])
    cache.close()
    path = tmp_path / CACHE_FILE
    for side in tmp_path.glob(CACHE_FILE + "-*"):
        side.unlink()
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * 4000 + data[4100:])  # header kept, first pages smashed
    cache = SummaryCache.open(tmp_path)
    assert list(tmp_path.glob(CACHE_FILE + ".corrupt-*"))
    assert not cache.memory_only
    cache.put(MODEL, "new", "ok")
    assert cache.get(MODEL, "new") == "ok"


def test_foreign_database_is_moved_aside(tmp_path):
    db = sqlite3.connect(tmp_path / CACHE_FILE)
    db.execute("CREATE TABLE something_else (x)")
    db.commit()
    db.close()
    cache = SummaryCache.open(tmp_path)
    assert not cache.memory_only
    assert len(list(tmp_path.glob(CACHE_FILE + ".corrupt-*"))) == 1


def test_two_connections_share_the_store(tmp_path):
    a = SummaryCache.open(tmp_path)
    b = SummaryCache.open(tmp_path)

    def writer(cache, prefix):
        for i in range(200):
            cache.put(MODEL, f"{prefix}{i}", f"{prefix} summary {i}")

    threads = [threading.Thread(target=writer, args=(a, "a")), threading.Thread(target=writer, args=(b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.stats.errors == 0 and b.stats.errors == 0
    assert a.get(MODEL, "b199") == "b summary 199"
    assert b.get(MODEL, "a0") == "a summary 0"
    assert len(a.get_many(MODEL, [f"{p}{i}" for p in "ab" for i in range(200)])) == 400


def test_two_processes_write_at_once(tmp_path):
    script = (
        "import sys; from lenscribe.cache import SummaryCache\n"
        "c = SummaryCache.open(sys.argv[1])\n"
        "for i in range(300): c.put('m', f'{sys.argv[2]}{i}', 'x' * 50)\n"
        "assert c.stats.errors == 0, c.stats\n"
    )
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), p]) for p in ("p", "q")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert time.monotonic() - started < 60
    cache = SummaryCache.open(tmp_path)
    assert len(cache.get_many("m", [f"{p}{i}" for p in "pq" for i in range(300)])) == 600
    assert not list(tmp_path.glob(CACHE_FILE + ".corrupt-*"))


def test_file_deleted_under_a_running_cache_keeps_serving(tmp_path):
    cache = SummaryCache.open(tmp_path)
    cache.put(MODEL, "h", "s")
    for f in tmp_path.iterdir():
        f.unlink()
    cache.put(MODEL, "h2", "s2")  # SQLite keeps the unlinked inode: still works, never raises
    assert cache.get(MODEL, "h") == "s" and cache.get(MODEL, "h2") == "s2"


def test_opening_waits_out_another_process_lock(tmp_path, monkeypatch):
    """"database is locked" while another process creates the file or switches it to WAL is not corruption and not a
    reason to go memory-only (its writes would be lost): opening tries again until the lock is gone."""
    real = SummaryCache._open_checked
    calls = []

    def flaky(self):
        calls.append(1)
        if len(calls) <= 3:
            raise sqlite3.OperationalError("database is locked")
        return real(self)

    monkeypatch.setattr(SummaryCache, "_open_checked", flaky)
    cache = SummaryCache.open(tmp_path)
    assert len(calls) == 4 and not cache.memory_only
    cache.put("m", "h", "a summary")
    cache.close()
    monkeypatch.setattr(SummaryCache, "_open_checked", real)
    assert SummaryCache.open(tmp_path).get("m", "h") == "a summary"
    assert not list(tmp_path.glob(CACHE_FILE + ".corrupt-*"))


def test_a_lock_that_never_goes_away_means_memory_only(tmp_path, monkeypatch):
    import lenscribe.cache

    def locked(self):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(lenscribe.cache, "OPEN_BUSY_WAIT_S", 0.2)
    monkeypatch.setattr(SummaryCache, "_open_checked", locked)
    started = time.monotonic()
    cache = SummaryCache.open(tmp_path)
    assert cache.memory_only and 0.2 <= time.monotonic() - started < 2.0
    cache.put("m", "h", "kept in memory")
    assert cache.get("m", "h") == "kept in memory"
    assert not list(tmp_path.glob(CACHE_FILE + ".corrupt-*"))


def _filled(cache_dir, n=12):
    cache = SummaryCache.open(cache_dir)
    cache.put_many(MODEL, [(f"h{i}", f"summary {i}") for i in range(n)])
    cache.close()
    return [f"h{i}" for i in range(n)]


def _disk_full(monkeypatch, error):
    """Every cache connection opened from now on fails to write (a full disk): its first write raises ``error``."""
    import lenscribe.cache

    real = sqlite3.connect

    class FullConnection(sqlite3.Connection):
        def execute(self, sql, *args):
            words = sql.split()
            if words[0].upper() in ("INSERT", "CREATE", "UPDATE", "DELETE") or "=" in sql and "PRAGMA" in sql:
                raise error
            return super().execute(sql, *args)

        def executemany(self, sql, *args):
            raise error

    monkeypatch.setattr(lenscribe.cache.sqlite3, "connect", lambda *a, **k: real(*a, factory=FullConnection, **k))


@pytest.mark.parametrize("error", [sqlite3.OperationalError("database or disk is full"),
                                   sqlite3.OperationalError("disk I/O error"),
                                   OSError(errno.ENOSPC, "No space left on device")])
def test_a_full_disk_never_moves_a_healthy_cache_aside(tmp_path, monkeypatch, caplog, error):
    """ENOSPC is a write failure, not corruption: the intact store stays where it is, the cache goes on in memory,
    and the next run finds every entry."""
    hashes = _filled(tmp_path)
    _disk_full(monkeypatch, error)
    with caplog.at_level(logging.WARNING, logger="lenscribe.cache"):
        cache = SummaryCache.open(tmp_path)
        cache.put_many(MODEL, [("new", "not written")])
        cache.put(MODEL, "new2", "not written either")
    assert cache.get(MODEL, "new") == "not written"  # kept in memory
    cache.close()
    assert not list(tmp_path.glob(CACHE_FILE + ".corrupt-*")), caplog.text
    monkeypatch.undo()
    assert len(SummaryCache.open(tmp_path).get_many(MODEL, hashes)) == 12


def test_a_write_failing_for_a_full_disk_keeps_the_store(tmp_path, monkeypatch, caplog):
    """The disk fills up while the cache is open: the failed write is logged, the store is kept."""
    hashes = _filled(tmp_path)
    cache = SummaryCache.open(tmp_path)
    assert not cache.memory_only
    _disk_full(monkeypatch, sqlite3.OperationalError("database or disk is full"))
    db = cache._db
    cache._db = sqlite3.connect(tmp_path / CACHE_FILE, check_same_thread=False)  # the patched connection class
    db.close()
    with caplog.at_level(logging.WARNING, logger="lenscribe.cache"):
        cache.put(MODEL, "new", "kept in memory")
    assert "disk is full" in caplog.text
    assert cache.get(MODEL, "new") == "kept in memory"
    cache.close()
    monkeypatch.undo()
    assert not list(tmp_path.glob(CACHE_FILE + ".corrupt-*"))
    assert len(SummaryCache.open(tmp_path).get_many(MODEL, hashes)) == 12


@pytest.mark.parametrize("replacement", ["directory", "fifo"])
def test_a_store_replaced_while_in_use_is_noticed_once(tmp_path, caplog, replacement):
    """The file swapped for a directory or a FIFO mid-run: the next write warns (once) and the cache keeps serving
    from memory instead of writing to a file nobody can open again."""
    cache = SummaryCache.open(tmp_path)
    cache.put(MODEL, "h", "s")
    for f in tmp_path.iterdir():
        f.unlink()
    path = tmp_path / CACHE_FILE
    path.mkdir() if replacement == "directory" else os.mkfifo(path)
    with caplog.at_level(logging.WARNING, logger="lenscribe.cache"):
        cache.put(MODEL, "h2", "s2")
        cache.put(MODEL, "h3", "s3")
    warnings = [r for r in caplog.records if "removed or replaced" in r.getMessage()]
    assert len(warnings) == 1
    assert cache.memory_only and "replaced" in (cache.problem or "")
    assert cache.get(MODEL, "h") == "s" and cache.get(MODEL, "h3") == "s3"


def test_a_directory_or_fifo_in_place_of_the_store_is_left_alone(tmp_path, caplog):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / CACHE_FILE).mkdir()
    (tmp_path / "f").mkdir()
    os.mkfifo(tmp_path / "f" / CACHE_FILE)
    for sub in ("d", "f"):
        cache = SummaryCache.open(tmp_path / sub)
        assert cache.memory_only and cache.problem
        assert not list((tmp_path / sub).glob(CACHE_FILE + ".corrupt-*"))
        cache.put(MODEL, "h", "s")
        assert cache.get(MODEL, "h") == "s"


def test_an_unreadable_cache_directory_means_memory_only(tmp_path, deny_access, caplog):
    cache_dir = tmp_path / "cache"
    _filled(cache_dir)
    deny_access(cache_dir)
    with caplog.at_level(logging.WARNING, logger="lenscribe.cache"):
        cache = SummaryCache.open(cache_dir)
    assert cache.memory_only and "memory only" in caplog.text
    assert "cannot use" in (cache.problem or "")
    cache.put(MODEL, "h", "s")
    assert cache.get(MODEL, "h") == "s"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a directory of mode 000 all the same")
def test_a_mode_000_cache_directory_means_memory_only(tmp_path):
    cache_dir = tmp_path / "cache"
    _filled(cache_dir)
    cache_dir.chmod(0)
    try:
        cache = SummaryCache.open(cache_dir)
        assert cache.memory_only and cache.problem
    finally:
        cache_dir.chmod(0o755)
