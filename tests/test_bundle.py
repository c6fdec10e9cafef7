"""Cache bundles: `lenscribe cache export|import|info`, their format checks and LENSCRIBE_CACHE_BUNDLE."""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from lenscribe.bundle import (
    BUNDLE_ENV,
    FORMAT_VERSION,
    BundleError,
    export_bundle,
    import_bundle,
    open_cache,
    read_header,
    verify_bundle,
)
from lenscribe.cache import SummaryCache
from lenscribe.cli import main

ENTRIES = {
    ("model-a@1+rp1.2", "h" * 63 + str(i % 10)): f"Summary {i} — with ünïcode and a\nsecond line." for i in range(10)
} | {("model-b@2", f"{i:064x}"): f"Other model's summary {i}." for i in range(25)}


@pytest.fixture()
def filled(tmp_path: Path) -> Path:
    cache_dir = tmp_path / "filled"
    cache = SummaryCache.open(cache_dir)
    for (summary_id, h), s in ENTRIES.items():
        cache.put(summary_id, h, s)
    cache.close()
    return cache_dir


def stored(cache_dir: Path) -> dict:
    with sqlite3.connect(cache_dir / "summaries.sqlite3") as con:
        return {(m, h): s for m, h, s in con.execute("SELECT model_id, hash, summary FROM summaries")}


def test_round_trip_and_double_import(filled: Path, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "team.csb"
    assert main(["cache", "export", str(bundle), "--cache-dir", str(filled)]) == 0
    info = verify_bundle(bundle)
    assert info.version == FORMAT_VERSION and info.entries == len(ENTRIES) == 35
    assert info.summary_ids == ("model-a@1+rp1.2", "model-b@2")

    fresh = tmp_path / "fresh"
    assert main(["cache", "import", str(bundle), "--cache-dir", str(fresh)]) == 0
    assert "35 summaries added, 0 already in the cache" in capsys.readouterr().err
    assert stored(fresh) == ENTRIES
    assert main(["cache", "import", str(bundle), "--cache-dir", str(fresh)]) == 0  # idempotent
    assert "0 summaries added, 35 already in the cache" in capsys.readouterr().err
    assert stored(fresh) == ENTRIES

    again = tmp_path / "again.csb"  # the same content exports to the same bytes
    assert main(["cache", "export", str(again), "--cache-dir", str(fresh)]) == 0
    assert read_header(again).sha256 == info.sha256


def test_import_keeps_entries_already_there(filled: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.csb"
    export_bundle(SummaryCache.open(filled), bundle)
    mine = SummaryCache.open(tmp_path / "mine")
    key = next(iter(ENTRIES))
    mine.put(*key, "my own summary")
    result = import_bundle(mine, bundle)
    assert (result.added, result.present) == (34, 1)
    assert mine.get(*key) == "my own summary"


def test_export_of_one_summary_id(filled: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.csb"
    assert main(["cache", "export", str(bundle), "--cache-dir", str(filled), "--summary-id", "model-b@2"]) == 0
    assert verify_bundle(bundle).entries == 25
    assert main(["cache", "import", str(bundle), "--cache-dir", str(tmp_path / "c")]) == 0
    assert stored(tmp_path / "c") == {k: v for k, v in ENTRIES.items() if k[0] == "model-b@2"}


def _rewrite(bundle: Path, edit) -> None:
    lines = gzip.decompress(bundle.read_bytes()).splitlines(keepends=True)
    bundle.write_bytes(gzip.compress(b"".join(edit(lines))))


def test_wrong_version_is_refused(filled: Path, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "b.csb"
    export_bundle(SummaryCache.open(filled), bundle)

    def bump(lines):
        header = json.loads(lines[0])
        header["version"] = FORMAT_VERSION + 1
        return [json.dumps(header).encode() + b"\n", *lines[1:]]

    _rewrite(bundle, bump)
    target = tmp_path / "t"
    assert main(["cache", "import", str(bundle), "--cache-dir", str(target)]) == 2
    assert f"format version {FORMAT_VERSION + 1}" in capsys.readouterr().err
    assert not (target / "summaries.sqlite3").exists()  # refused before the cache was touched


@pytest.mark.parametrize("damage", ["entry", "header-sha", "dropped-line", "truncated", "not-a-bundle"])
def test_damaged_bundle_is_refused(filled: Path, tmp_path: Path, capsys, damage: str) -> None:
    bundle = tmp_path / "b.csb"
    export_bundle(SummaryCache.open(filled), bundle)
    if damage == "entry":
        _rewrite(bundle, lambda lines: [lines[0], lines[1].replace(b"Summary", b"Sunmary"), *lines[2:]])
    elif damage == "header-sha":
        def other_sha(lines):
            header = json.loads(lines[0])
            header["sha256"] = "0" * 64
            return [json.dumps(header).encode() + b"\n", *lines[1:]]

        _rewrite(bundle, other_sha)
    elif damage == "dropped-line":
        _rewrite(bundle, lambda lines: lines[:-1])
    elif damage == "truncated":
        bundle.write_bytes(bundle.read_bytes()[:-40])
    else:
        bundle.write_text("summary,hash\n")
    target = tmp_path / "t"
    assert main(["cache", "import", str(bundle), "--cache-dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lenscribe: ")
    expected = {"entry": "checksum mismatch", "header-sha": "checksum mismatch", "dropped-line": "checksum mismatch",
                "truncated": "cut short", "not-a-bundle": "not a lenscribe cache bundle"}[damage]
    assert expected in err
    with pytest.raises(BundleError):
        import_bundle(SummaryCache.open(target), bundle)
    assert stored(target) == {}


def test_env_bundle_is_imported_once_when_a_cache_opens(filled: Path, tmp_path: Path, monkeypatch, caplog) -> None:
    bundle = tmp_path / "team.csb"
    info = export_bundle(SummaryCache.open(filled), bundle)
    monkeypatch.setenv(BUNDLE_ENV, str(bundle))
    cache = open_cache(tmp_path / "server-cache")  # what the language server does at start-up
    assert cache.bundle_imported(info.sha256)
    assert cache.get_many("model-b@2", [f"{i:064x}" for i in range(25)]) == {
        f"{i:064x}": f"Other model's summary {i}." for i in range(25)}
    cache.close()
    with caplog.at_level(logging.INFO, logger="lenscribe.bundle"):
        open_cache(tmp_path / "server-cache").close()
    assert "imported" not in caplog.text  # taken once: later opens only read the header

    monkeypatch.setenv(BUNDLE_ENV, str(tmp_path / "nope.csb"))
    with caplog.at_level(logging.WARNING, logger="lenscribe.bundle"):
        cache = open_cache(tmp_path / "other")  # a missing bundle never stops the server
    assert "not imported" in caplog.text and cache.count() == 0


def test_the_language_server_reads_imported_entries_as_hits(tmp_path: Path, monkeypatch) -> None:
    from lenscribe.chunking import chunk_text
    from lenscribe.decoding import GenerationOptions, decoding_id
    from lenscribe.engine import Engine
    from lenscribe.settings import Settings

    shipped = Path(__file__).resolve().parents[1] / "models" / "lenscribe-small"
    from lenscribe.modelfiles import load_manifest

    summary_id = decoding_id(load_manifest(shipped).model_id, GenerationOptions())
    chunks = chunk_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n", "python")
    source = SummaryCache.open(tmp_path / "ci")
    source.put_many(summary_id, [(c.hash, f"From the team bundle: {c.name}.") for c in chunks])
    export_bundle(source, tmp_path / "team.csb")
    assert main(["cache", "import", str(tmp_path / "team.csb"), "--cache-dir", str(tmp_path / "editor")]) == 0

    engine = Engine(Settings(model_dir=str(shipped), cache_dir=str(tmp_path / "editor"), workers=1))
    try:
        assert engine.load_model() is None
        assert engine.cached_summaries(chunks) == {c.hash: f"From the team bundle: {c.name}." for c in chunks}
    finally:
        engine.shutdown()


def test_an_unreadable_cache_directory_is_a_clear_error(filled: Path, tmp_path: Path, deny_access, capsys) -> None:
    """A cache directory of mode 000 (simulated: the tests run as root): export and import say so, no traceback."""
    bundle = tmp_path / "team.csb"
    assert main(["cache", "export", str(bundle), "--cache-dir", str(filled)]) == 0
    capsys.readouterr()
    deny_access(filled)
    assert main(["cache", "export", str(tmp_path / "other.csb"), "--cache-dir", str(filled)]) == 2
    err = capsys.readouterr().err
    assert "cannot be opened" in err and "unable to open database file" in err and "Traceback" not in err
    assert main(["cache", "import", str(bundle), "--cache-dir", str(filled)]) == 2
    err = capsys.readouterr().err
    assert "in memory only" in err and "unable to open database file" in err


UNSAFE = "Read a\x00 file.\n![img](https://evil.example/x.png) [run](command:workbench.action.x)"


def test_imported_summaries_are_sanitized(tmp_path: Path) -> None:
    """A bundle's text is untrusted: a NUL byte or a markdown image / command link never reaches the cache."""
    source = tmp_path / "source"
    SummaryCache.open(source).close()
    with sqlite3.connect(source / "summaries.sqlite3") as con:  # as another tool (or an old lenscribe) wrote it
        con.execute("INSERT INTO summaries VALUES ('m@1', ?, ?, 0)", ["a" * 64, UNSAFE])
    bundle = tmp_path / "evil.csb"
    export_bundle(SummaryCache.open(source), bundle)
    fresh = tmp_path / "fresh"
    assert import_bundle(SummaryCache.open(fresh), bundle).added == 1
    assert stored(fresh) == {("m@1", "a" * 64): "Read a file.\nimg run"}
    # and a cache file holding such text is sanitized as it is read
    assert SummaryCache.open(source).get("m@1", "a" * 64) == "Read a file.\nimg run"


def _bomb(path: Path, first: bytes, line_bytes: int) -> None:
    """A gzip file of ``first`` then one line of ``line_bytes`` zeros (a few KB on disk per 64 MB of line)."""
    with gzip.open(path, "wb") as f:
        f.write(first)
        block = b"0" * (1 << 20)
        for _ in range(line_bytes >> 20):
            f.write(block)
        f.write(b"\n")


def _peak_bytes(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_gzip_bomb_line_is_refused_without_reading_it_whole(filled: Path, tmp_path: Path, capsys) -> None:
    """A bundle is read as a stream with a line-length cap: a 64 MB line (64 KB of gzip) was read into memory whole
    (a 1 GiB one took 2.2 GiB and a MemoryError under a memory limit)."""
    bundle = tmp_path / "good.csb"
    export_bundle(SummaryCache.open(filled), bundle)
    with gzip.open(bundle, "rb") as f:
        header = f.readline()
    entry_bomb, header_bomb = tmp_path / "entry.csb", tmp_path / "header.csb"
    _bomb(entry_bomb, header + b'["m", "h", "', 64 << 20)
    _bomb(header_bomb, b'{"format": "', 64 << 20)
    with pytest.raises(BundleError, match="longer than"):
        verify_bundle(entry_bomb)
    assert _peak_bytes(lambda: pytest.raises(BundleError, verify_bundle, entry_bomb)) < 8 << 20
    assert _peak_bytes(lambda: pytest.raises(BundleError, read_header, header_bomb)) < 8 << 20
    with pytest.raises(BundleError, match="not a lenscribe cache bundle"):
        read_header(header_bomb)
    for bomb in (entry_bomb, header_bomb):
        assert main(["cache", "info", str(bomb)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("lenscribe: ") and "Traceback" not in err


def test_more_lines_than_the_header_says_stop_the_read(filled: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.csb"
    export_bundle(SummaryCache.open(filled), bundle)
    _rewrite(bundle, lambda lines: [lines[0], *lines[1:], *lines[1:]])
    with pytest.raises(BundleError, match="more entries than the 35"):
        verify_bundle(bundle)


def test_the_engine_imports_env_bundles_off_its_constructor(filled: Path, tmp_path: Path, monkeypatch) -> None:
    """The server opens its cache in initialize; LENSCRIBE_CACHE_BUNDLE's import (14 s for 1e6 entries) is done
    later on a worker thread (Engine.import_bundles), not in the constructor."""
    from lenscribe.engine import Engine
    from lenscribe.settings import Settings

    bundle = tmp_path / "team.csb"
    info = export_bundle(SummaryCache.open(filled), bundle)
    monkeypatch.setenv(BUNDLE_ENV, str(bundle))
    engine = Engine(Settings(cache_dir=str(tmp_path / "server-cache"), workers=1))
    try:
        assert not engine.cache.bundle_imported(info.sha256) and engine.cache.count() == 0
        assert [r.added for r in engine.import_bundles()] == [len(ENTRIES)]
        assert engine.cache.bundle_imported(info.sha256)
        assert engine.import_bundles() == []  # once
    finally:
        engine.shutdown()
