"""(model_id, chunk hash) -> summary: an in-memory LRU in front of a persistent SQLite store.

    cache = SummaryCache.open(user_cache_dir())         # never raises for a bad directory or file
    cache.get(model_id, chunk.hash)                       # str | None
    cache.put(model_id, chunk.hash, summary)

The store is one SQLite file (``summaries.sqlite3``) in WAL mode with a busy timeout, so two server processes (two
editor windows) can share it: readers never block, a writer waits for the other's transaction instead of failing.
Every write is an ``INSERT OR REPLACE`` of a deterministic value, so concurrent writers cannot disagree.

A file that is not a database, fails its quick check or has another schema version is moved aside (renamed with a
timestamp suffix), a warning is logged and an empty store is built in its place.  Only such a file is ever moved
aside: a write that fails (a full disk, an I/O error), a directory that cannot be read, a cache path that is a
directory or a FIFO leave the file where it is and the cache carries on in memory only (``memory_only``, ``problem``
says why) -- the language server keeps serving either way.  Corruption found later, while reading or writing, is
handled the same way, once; after that the cache stays in memory.  A store file removed or replaced while in use (its
writes would go to a file nobody can open again) is noticed after the next write: a warning, then memory only.

Summaries are untrusted text (a bundle's, a file another tool wrote): they are sanitized (``sanitize_summary``) as they
are stored and as they are read from the file.

Thread-safe: one connection guarded by a lock (queries are short primary-key lookups).  Knows nothing of LSP.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lenscribe.postprocess import sanitize_summary

log = logging.getLogger(__name__)

__all__ = ["CACHE_FILE", "SCHEMA_VERSION", "CacheStats", "SummaryCache"]

CACHE_FILE = "summaries.sqlite3"
SCHEMA_VERSION = 1
OPEN_BUSY_WAIT_S = 10.0  # how long opening waits out another process's lock before going memory-only
BUSY_TIMEOUT_MS = 5000
DEFAULT_CAPACITY = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS summaries (
    model_id TEXT NOT NULL,
    hash     TEXT NOT NULL,
    summary  TEXT NOT NULL,
    created  REAL NOT NULL,
    PRIMARY KEY (model_id, hash)
) WITHOUT ROWID
"""

# Bundles imported into this file (lenscribe.bundle): lets a start-up import skip a bundle it already took.
_BUNDLES = """
CREATE TABLE IF NOT EXISTS bundles (
    sha256   TEXT PRIMARY KEY,
    entries  INTEGER NOT NULL,
    source   TEXT NOT NULL,
    imported REAL NOT NULL
)
"""


@dataclass
class CacheStats:
    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0

    @property
    def hits(self) -> int:
        return self.memory_hits + self.disk_hits

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "memory_hits": self.memory_hits, "disk_hits": self.disk_hits,
                "misses": self.misses, "writes": self.writes, "errors": self.errors}


class _Corrupt(Exception):
    pass


class SummaryCache:
    """LRU (``capacity`` entries) over an optional SQLite file; ``path=None`` is a memory-only cache."""

    def __init__(self, path: Path | str | None = None, capacity: int = DEFAULT_CAPACITY) -> None:
        self.path = Path(path) if path is not None else None
        self.capacity = max(1, capacity)
        self.stats = CacheStats()
        self.moved_aside: list[Path] = []  # corrupt files renamed away by this instance
        self._lru: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._recovered = False  # one rebuild after corruption found at run time; then memory only
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self.problem: str | None = None  # why a cache with a path is memory only
        if self.path is not None:
            self._db = self._connect()

    @classmethod
    def open(cls, cache_dir: Path | str | None, capacity: int = DEFAULT_CAPACITY) -> SummaryCache:
        """The cache in ``cache_dir`` (created if needed); memory-only when ``cache_dir`` is None or unusable."""
        if cache_dir is None:
            return cls(None, capacity)
        cache_dir = Path(cache_dir).expanduser()
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            log.warning("summary cache: cannot create %s (%s); keeping summaries in memory only", cache_dir, e)
            cache = cls(None, capacity)
            cache.problem = f"cannot create {cache_dir}: {e.strerror or e}"
            return cache
        return cls(cache_dir / CACHE_FILE, capacity)

    # ------------------------------------------------------------------------------------------------ properties

    @property
    def memory_only(self) -> bool:
        return self._db is None

    def __len__(self) -> int:
        return len(self._lru)

    # ------------------------------------------------------------------------------------------------ reading

    def get(self, model_id: str, chunk_hash: str) -> str | None:
        return self.get_many(model_id, [chunk_hash]).get(chunk_hash)

    def get_many(self, model_id: str, hashes: Iterable[str]) -> dict[str, str]:
        """The cached summaries among ``hashes`` (missing ones are absent from the result)."""
        found: dict[str, str] = {}
        missing: list[str] = []
        with self._lock:
            for h in dict.fromkeys(hashes):
                key = (model_id, h)
                value = self._lru.get(key)
                if value is not None:
                    self._lru.move_to_end(key)
                    self.stats.memory_hits += 1
                    found[h] = value
                else:
                    missing.append(h)
            if missing and self._db is not None:
                rows = self._query(model_id, missing)
                for h, summary in rows:
                    summary = sanitize_summary(summary)  # a file written by another version or tool
                    self._remember((model_id, h), summary)
                    found[h] = summary
                self.stats.disk_hits += len(rows)
            self.stats.misses += sum(1 for h in missing if h not in found)
        return found

    def _query(self, model_id: str, hashes: list[str]) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        try:
            for start in range(0, len(hashes), 500):  # SQLite's bound-parameter limit
                part = hashes[start : start + 500]
                marks = ",".join("?" * len(part))
                rows += self._db.execute(  # type: ignore[union-attr]
                    f"SELECT hash, summary FROM summaries WHERE model_id = ? AND hash IN ({marks})", [model_id, *part]
                ).fetchall()
        except sqlite3.Error as e:
            self._on_error("read", e)
        return rows

    # ------------------------------------------------------------------------------------------------ writing

    def put(self, model_id: str, chunk_hash: str, summary: str) -> None:
        self.put_many(model_id, [(chunk_hash, summary)])

    def put_many(self, model_id: str, items: Iterable[tuple[str, str]]) -> None:
        items = [(h, sanitize_summary(s)) for h, s in items if isinstance(s, str)]
        if not items:
            return
        with self._lock:
            for h, s in items:
                self._remember((model_id, h), s)
            self.stats.writes += len(items)
            if self._db is None:
                return
            now = time.time()
            try:
                with self._db:  # one transaction
                    self._db.executemany(
                        "INSERT OR REPLACE INTO summaries (model_id, hash, summary, created) VALUES (?, ?, ?, ?)",
                        [(model_id, h, s, now) for h, s in items],
                    )
            except sqlite3.Error as e:
                self._on_error("write", e)
                return
            self._check_identity()

    def import_entries(self, items: Iterable[tuple[str, str, str]]) -> tuple[int, int]:
        """Add (summary id, hash, summary) entries, keeping any already there (``INSERT OR IGNORE``): importing the
        same entries twice changes nothing.  Returns (added, already present).  Raises ``sqlite3.Error`` (and
        ``RuntimeError`` for a memory-only cache): an import must not half-succeed silently."""
        items = [(m, h, sanitize_summary(s)) for m, h, s in items if isinstance(s, str)]  # a bundle's: untrusted
        if not items:
            return 0, 0
        with self._lock:
            if self._db is None:
                raise RuntimeError(self._memory_only_reason())
            now = time.time()
            with self._db:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO summaries (model_id, hash, summary, created) VALUES (?, ?, ?, ?)",
                    [(m, h, s, now) for m, h, s in items],
                )
                added = self._db.total_changes - before
            if not self._check_identity():
                raise sqlite3.OperationalError(f"{self.path} was removed or replaced while in use")
        return added, len(items) - added

    def iter_entries(self, summary_ids: Iterable[str] | None = None, page: int = 5000):
        """Every stored (summary id, hash, summary), ordered by summary id then hash (the file, not the LRU); only
        those of ``summary_ids`` when given.  Pages through the table so that a large store is never all in memory."""
        with self._lock:
            if self._db is None:
                raise RuntimeError(self._memory_only_reason())
        wanted = sorted(set(summary_ids)) if summary_ids is not None else None
        last = ("", "")
        while True:
            with self._lock:
                sql = "SELECT model_id, hash, summary FROM summaries WHERE (model_id, hash) > (?, ?)"
                args: list = [*last]
                if wanted is not None:
                    sql += f" AND model_id IN ({','.join('?' * len(wanted))})"
                    args += wanted
                rows = self._db.execute(sql + " ORDER BY model_id, hash LIMIT ?", [*args, page]).fetchall()
            yield from rows
            if len(rows) < page:
                return
            last = (rows[-1][0], rows[-1][1])

    def count(self) -> int:
        """Entries in the file (the LRU's when memory only)."""
        with self._lock:
            if self._db is None:
                return len(self._lru)
            return self._db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0]

    def bundle_imported(self, sha256: str) -> bool:
        """Whether a bundle with this content digest was imported into this file before (start-up imports)."""
        with self._lock:
            if self._db is None:
                return False
            self._db.execute(_BUNDLES)
            return self._db.execute("SELECT 1 FROM bundles WHERE sha256 = ?", [sha256]).fetchone() is not None

    def record_bundle(self, sha256: str, entries: int, source: str) -> None:
        with self._lock:
            if self._db is None:
                return
            with self._db:
                self._db.execute(_BUNDLES)
                self._db.execute("INSERT OR REPLACE INTO bundles (sha256, entries, source, imported) "
                                 "VALUES (?, ?, ?, ?)", [sha256, entries, source, time.time()])

    def _memory_only_reason(self) -> str:
        return f"the summary cache is in memory only ({self.problem or 'its directory is not usable'})"

    def _check_identity(self) -> bool:
        """Whether the path still names the file this cache writes to; if not (removed, or replaced by another file,
        a directory, a FIFO), warn once and carry on in memory only: its writes would be lost."""
        if self._db is None or self._identity is None or self.path is None:
            return True
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._identity
        except OSError:
            same = False
        if not same:
            log.warning("summary cache: %s was removed or replaced while in use; new summaries are kept in memory "
                        "only from now on", self.path)
            self.problem = f"{self.path} was removed or replaced while in use"
            self.stats.errors += 1
            db, self._db = self._db, None
            try:
                db.close()
            except sqlite3.Error:
                pass
        return same

    def _remember(self, key: tuple[str, str], value: str) -> None:
        self._lru[key] = value
        self._lru.move_to_end(key)
        while len(self._lru) > self.capacity:
            self._lru.popitem(last=False)

    def clear_memory(self) -> None:
        """Forget the in-memory entries (the file keeps them): tests and benchmarks use it to measure disk hits."""
        with self._lock:
            self._lru.clear()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                try:
                    self._db.close()
                except sqlite3.Error:
                    pass
                self._db = None

    # ------------------------------------------------------------------------------------------------ the file

    def _connect(self) -> sqlite3.Connection | None:
        """Open (and if need be rebuild) the store; None means memory only."""
        assert self.path is not None
        moved = False
        deadline = time.monotonic() + OPEN_BUSY_WAIT_S
        pause = 0.02
        while True:
            try:
                return self._open_checked()
            except (sqlite3.Error, OSError, _Corrupt) as e:
                if isinstance(e, sqlite3.Error) and _is_locked(e):
                    # another process holds it (creating it, switching it to WAL, checkpointing): not corruption, do
                    # not touch it. Some of these locks fail at once without the busy handler: wait and try again.
                    if time.monotonic() < deadline:
                        time.sleep(pause)
                        pause = min(pause * 2, 0.5)
                        continue
                    log.warning("summary cache: %s is busy (%s); keeping summaries in memory only", self.path, e)
                    self.problem = f"{self.path} is busy"
                    return None
                # Only a file that fails its integrity or schema check is moved aside: a full disk, an I/O error, an
                # unreadable directory, a directory or FIFO in its place say nothing against the entries in it.
                if isinstance(e, _Corrupt) and not moved and self._move_aside(str(e)):
                    moved = True
                    continue  # corrupt: rebuilt from scratch
                reason = e.strerror or str(e) if isinstance(e, OSError) else str(e)
                log.warning("summary cache: cannot use %s (%s); keeping summaries in memory only", self.path, reason)
                self.problem = f"cannot use {self.path}: {reason}"
                return None

    def _open_checked(self) -> sqlite3.Connection:
        assert self.path is not None
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                             isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()
            if not mode or str(mode[0]).lower() != "wal":
                log.debug("summary cache: journal mode %s (WAL not available)", mode)
            db.execute("PRAGMA synchronous = NORMAL")
            check = db.execute("PRAGMA quick_check(1)").fetchone()
            if not check or check[0] != "ok":
                raise _Corrupt(f"quick_check: {check[0] if check else 'no answer'}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version not in (0, SCHEMA_VERSION) or (version == 0 and tables - {"summaries"}):
                raise _Corrupt(f"schema version {version}, tables {sorted(tables)}: not a lenscribe cache")
            db.execute(_SCHEMA)
            if version == 0:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            cols = [r[1] for r in db.execute("PRAGMA table_info(summaries)")]
            if cols[:3] != ["model_id", "hash", "summary"]:
                raise _Corrupt(f"unexpected columns {cols}")
        except sqlite3.DatabaseError as e:
            db.close()
            if isinstance(e, sqlite3.OperationalError) and not _looks_corrupt(e):
                raise
            raise _Corrupt(str(e)) from e
        except BaseException:
            db.close()
            raise
        # `with db:` opens and commits transactions. DEFERRED is SQLite's default: the same as "" (a plain BEGIN)
        db.isolation_level = "DEFERRED"
        try:
            st = os.stat(self.path)
            self._identity = (st.st_dev, st.st_ino)
        except OSError:
            self._identity = None
        return db

    def _move_aside(self, reason: str) -> bool:
        """Rename the store (and its -wal/-shm files) to ``NAME.corrupt-<timestamp>``; False if that failed."""
        assert self.path is not None
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            if self.path.exists():
                os.replace(self.path, target)
                self.moved_aside.append(target)
            for suffix in ("-wal", "-shm", "-journal"):
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    os.replace(side, target.with_name(target.name + suffix))
        except OSError as e:
            log.warning("summary cache: %s is unusable (%s) and cannot be moved aside (%s)", self.path, reason, e)
            return False
        log.warning("summary cache: %s was unusable (%s); moved it to %s and started a new one",
                    self.path, reason, target.name)
        return True

    def _on_error(self, what: str, e: sqlite3.Error) -> None:
        """A query failed: keep serving from memory; rebuild the file once if it turned out to be corrupt."""
        self.stats.errors += 1
        if _is_locked(e):
            log.debug("summary cache: %s skipped, store busy: %s", what, e)
            return
        log.warning("summary cache: %s failed on %s: %s", what, self.path, e)
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass
        if self._recovered or self.path is None:
            return
        self._recovered = True
        if _looks_corrupt(e) or isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
            self._move_aside(str(e))
        self._db = self._connect()


def _is_locked(e: sqlite3.Error) -> bool:
    text = str(e).lower()
    return "locked" in text or "busy" in text


def _looks_corrupt(e: sqlite3.Error) -> bool:
    text = str(e).lower()
    return any(s in text for s in ("not a database", "malformed", "corrupt", "file is encrypted", "disk image"))
