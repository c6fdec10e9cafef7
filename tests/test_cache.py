"""lenscribe.cache: LRU over SQLite, persistence, corruption handling, sharing between connections and processes."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
import time

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
