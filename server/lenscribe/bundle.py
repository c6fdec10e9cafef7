"""Cache bundles: the summary cache's (summary id, chunk hash) -> summary entries in one portable, checksummed file.

    lenscribe cache export team.csb [--cache-dir DIR] [--summary-id ID ...]
    lenscribe cache import team.csb [--cache-dir DIR]
    lenscribe cache info team.csb

A bundle is a gzip file of JSON lines.  The first line is the header::

    {"format": "lenscribe-cache-bundle", "version": 1, "entries": N, "sha256": "<hex>", "summary_ids": [...],
     "created": "<UTC ISO time>", "lenscribe": "<version>"}

and every other line one entry, ``["<summary id>", "<chunk hash>", "<summary>"]``, in (summary id, hash) order.
``sha256`` is the digest of those entry lines, bytes as written (UTF-8, each ending in a newline), so a bundle
that was cut short or changed is refused whatever gzip says.  A reader refuses a header of another ``format`` or
``version``: a later format bumps ``version``.

Import verifies the whole file first (format, version, digest, entry count, every line's shape), then adds the entries
with ``INSERT OR IGNORE``: entries already in the cache stay as they are, importing a bundle twice adds nothing the
second time.  The digest of each imported bundle is recorded in the cache file, so ``LENSCRIBE_CACHE_BUNDLE`` (a
bundle, or several separated by the OS path separator, imported whenever a cache is opened -- the language server at
start-up, ``lenscribe summarize``) costs a header read once a bundle is in.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lenscribe.cache import SummaryCache

log = logging.getLogger(__name__)

__all__ = ["BUNDLE_ENV", "FORMAT", "FORMAT_VERSION", "BundleError", "BundleInfo", "ImportResult", "export_bundle",
           "import_bundle", "import_env_bundles", "open_cache", "read_header", "verify_bundle"]

FORMAT = "lenscribe-cache-bundle"
FORMAT_VERSION = 1
BUNDLE_ENV = "LENSCRIBE_CACHE_BUNDLE"
IMPORT_PAGE = 5000
MAX_HEADER_BYTES = 1024 * 1024  # a longer first line is not a bundle header
MAX_LINE_BYTES = 64 * 1024  # a longer entry line is damage (an entry is two ids and a two-line summary)


class BundleError(Exception):
    """A bundle that cannot be read or must not be imported; the message says why."""


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    version: int
    entries: int
    sha256: str
    summary_ids: tuple[str, ...]
    created: str


@dataclass(frozen=True)
class ImportResult:
    info: BundleInfo
    added: int
    present: int  # already in the cache (kept as they were)


def _entry_line(summary_id: str, chunk_hash: str, summary: str) -> bytes:
    return json.dumps([summary_id, chunk_hash, summary], ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def export_bundle(cache: SummaryCache, path: Path | str, summary_ids: Iterable[str] | None = None) -> BundleInfo:
    """Write every entry of ``cache``'s file (only ``summary_ids``' when given) to a bundle at ``path`` (atomically:
    a file of that name is replaced only once the bundle is complete)."""
    path = Path(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.entries")
    final = path.with_name(f".{path.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    count = 0
    ids: set[str] = set()
    try:
        with open(part, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for summary_id, chunk_hash, summary in cache.iter_entries(summary_ids):
                line = _entry_line(summary_id, chunk_hash, summary)
                digest.update(line)
                gz.write(line)
                count += 1
                ids.add(summary_id)
        header = {"format": FORMAT, "version": FORMAT_VERSION, "entries": count, "sha256": digest.hexdigest(),
                  "summary_ids": sorted(ids), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "lenscribe": _lenscribe_version()}
        with open(final, "wb") as out:
            # Two gzip members, header then entries: one gzip stream to any reader, the entries written only once.
            out.write(gzip.compress(json.dumps(header, sort_keys=True).encode() + b"\n", mtime=0))
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out)
        os.replace(final, path)
    finally:
        for leftover in (part, final):
            leftover.unlink(missing_ok=True)
    return _info(path, header)


def _lenscribe_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lenscribe")
    except PackageNotFoundError:
        return "unknown"


def _info(path: Path, header: dict) -> BundleInfo:
    return BundleInfo(path, header["version"], header["entries"], header["sha256"], tuple(header["summary_ids"]),
                      header.get("created", ""))


def _read_line(f: gzip.GzipFile, limit: int) -> bytes | None:
    """The next line of ``f``, at most ``limit`` bytes; None past the limit (never more than that is held)."""
    line = f.readline(limit + 1)
    return None if len(line) > limit else line


def _check_header(path: Path, line: bytes | None) -> dict:
    try:
        header = json.loads(line) if line is not None else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BundleError(f"{path} is not a lenscribe cache bundle (no bundle header)")
    if header.get("version") != FORMAT_VERSION:
        raise BundleError(f"{path} is a cache bundle of format version {header.get('version')!r}; this lenscribe reads "
                          f"version {FORMAT_VERSION} only (export it again with a matching lenscribe)")
    entries, sha, ids = header.get("entries"), header.get("sha256"), header.get("summary_ids")
    if not (isinstance(entries, int) and entries >= 0 and isinstance(sha, str) and len(sha) == 64
            and isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise BundleError(f"{path}: malformed bundle header")
    return header


def read_header(path: Path | str) -> BundleInfo:
    """The header of the bundle at ``path`` (format and version checked, content not)."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            return _info(path, _check_header(path, _read_line(f, MAX_HEADER_BYTES)))
    except BundleError:
        raise
    except gzip.BadGzipFile as e:
        raise BundleError(f"{path} is not a lenscribe cache bundle (not a gzip file)") from e
    except (OSError, EOFError, zlib.error) as e:
        raise BundleError(f"cannot read cache bundle {path}: {e.strerror or e if isinstance(e, OSError) else e}") from e


def _entries(path: Path) -> Iterator[tuple[dict, int, bytes, tuple[str, str, str]]]:
    """(header, line number, raw line, entry) for every entry line, read as a stream (a line over MAX_LINE_BYTES or
    more lines than the header announces stop the read); BundleError for anything unreadable."""
    try:
        with gzip.open(path, "rb") as f:
            header = _check_header(path, _read_line(f, MAX_HEADER_BYTES))
            number = 1
            while True:
                line = _read_line(f, MAX_LINE_BYTES)
                number += 1
                if line == b"":
                    break
                if line is None:
                    raise BundleError(f"{path}: line {number} is longer than {MAX_LINE_BYTES} bytes: not a bundle "
                                      "entry (the bundle is damaged)")
                if number - 1 > header["entries"]:
                    raise BundleError(f"{path}: more entries than the {header['entries']} its header announces "
                                      "(the bundle is damaged)")
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = None
                if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(x, str) for x in entry)
                        and line.endswith(b"\n")):
                    raise BundleError(f"{path}: line {number} is not a bundle entry (the bundle is damaged)")
                yield header, number, line, (entry[0], entry[1], entry[2])
    except BundleError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # gzip's own CRC and length checks, a file cut short
        raise BundleError(f"cannot read cache bundle {path} (damaged or cut short): {e}") from e


def verify_bundle(path: Path | str) -> BundleInfo:
    """Read the whole bundle and check its header, its entries' shape, their count and their sha256."""
    path = Path(path)
    info = read_header(path)
    digest = hashlib.sha256()
    count = 0
    for _, _, line, _ in _entries(path):
        digest.update(line)
        count += 1
    if count != info.entries or digest.hexdigest() != info.sha256:
        raise BundleError(f"{path}: checksum mismatch (header: {info.entries} entries, sha256 {info.sha256[:12]}; "
                          f"content: {count} entries, sha256 {digest.hexdigest()[:12]}): the bundle is damaged")
    return info


def import_bundle(cache: SummaryCache, path: Path | str) -> ImportResult:
    """Verify the bundle at ``path`` in full, then add its entries to ``cache`` (keeping those already there)."""
    path = Path(path)
    info = verify_bundle(path)
    if cache.memory_only:
        raise BundleError(f"the summary cache is in memory only ({cache.problem or 'its directory is not usable'}): "
                          "nothing to import into")
    added = present = 0
    page: list[tuple[str, str, str]] = []
    try:
        for _, _, _, entry in _entries(path):
            page.append(entry)
            if len(page) >= IMPORT_PAGE:
                a, p = cache.import_entries(page)
                added, present, page = added + a, present + p, []
        a, p = cache.import_entries(page)
        added, present = added + a, present + p
        cache.record_bundle(info.sha256, info.entries, str(path))
    except (sqlite3.Error, RuntimeError) as e:
        raise BundleError(f"cannot write to the summary cache {cache.path}: {e}") from e
    return ImportResult(info, added, present)


def import_env_bundles(cache: SummaryCache, value: str | None = None) -> list[ImportResult]:
    """Import the bundles named by ``LENSCRIBE_CACHE_BUNDLE`` (or ``value``) that this cache has not taken yet.

    Never raises: a missing or bad bundle is logged as a warning (a server must start all the same)."""
    value = os.environ.get(BUNDLE_ENV, "") if value is None else value
    done: list[ImportResult] = []
    if cache.memory_only:
        return done
    for name in filter(None, value.split(os.pathsep)):
        path = Path(name).expanduser()
        try:
            if cache.bundle_imported(read_header(path).sha256):
                continue
            result = import_bundle(cache, path)
        except (BundleError, sqlite3.Error) as e:
            log.warning("%s: not imported: %s", BUNDLE_ENV, e)
            continue
        log.info("%s: imported %s: %d entries added, %d already there", BUNDLE_ENV, path, result.added, result.present)
        done.append(result)
    return done


def open_cache(cache_dir: Path | str | None) -> SummaryCache:
    """``SummaryCache.open(cache_dir)``, then the bundles of ``LENSCRIBE_CACHE_BUNDLE`` it has not taken yet
    (``import_env_bundles``): how the language server, ``lenscribe summarize`` and ``lenscribe cache`` open a cache."""
    cache = SummaryCache.open(cache_dir)
    if os.environ.get(BUNDLE_ENV):  # a team bundle to start warm from
        import_env_bundles(cache)
    return cache


# ---------------------------------------------------------------------------------------------------- command line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="export or import the summary cache as a portable bundle")
    cache_sub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    help_dir = "the cache directory (default: $LENSCRIBE_CACHE_DIR, else the user cache dir, as the server uses)"
    e = cache_sub.add_parser("export", help="write the cache's summaries to a bundle file")
    e.add_argument("file", type=Path, metavar="FILE")
    e.add_argument("--cache-dir", type=Path, default=None, help=help_dir)
    e.add_argument("--summary-id", action="append", default=None,
                   help="only summaries of this summary id (model and decoding); repeatable")
    e.set_defaults(func=_export)
    i = cache_sub.add_parser("import", help="add a bundle's summaries to the cache (verified first; idempotent)")
    i.add_argument("file", type=Path, metavar="FILE")
    i.add_argument("--cache-dir", type=Path, default=None, help=help_dir)
    i.set_defaults(func=_import)
    n = cache_sub.add_parser("info", help="verify a bundle and print its header")
    n.add_argument("file", type=Path, metavar="FILE")
    n.set_defaults(func=_info_cmd)


def open_cache_dir(cache_dir: Path | None) -> SummaryCache:
    from lenscribe.defaults import user_cache_dir

    return open_cache(cache_dir or user_cache_dir())


def _export(args: argparse.Namespace) -> int:
    cache = open_cache_dir(args.cache_dir)
    try:
        if cache.memory_only:
            print(f"lenscribe: the summary cache {args.cache_dir or ''} cannot be opened "
                  f"({cache.problem or 'its directory is not usable'})", file=sys.stderr)
            return 2
        try:
            info = export_bundle(cache, args.file, args.summary_id)
        except OSError as e:
            print(f"lenscribe: cannot write {args.file}: {e.strerror or e}", file=sys.stderr)
            return 2
    finally:
        cache.close()
    print(f"exported {info.entries} summaries ({', '.join(info.summary_ids) or 'none'}) to {info.path} "
          f"(sha256 {info.sha256[:12]}, {info.path.stat().st_size} bytes)", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        verify_bundle(args.file)  # before touching the cache
    except BundleError as e:
        print(f"lenscribe: {e}", file=sys.stderr)
        return 2
    cache = open_cache_dir(args.cache_dir)
    try:
        result = import_bundle(cache, args.file)
    except BundleError as e:
        print(f"lenscribe: {e}", file=sys.stderr)
        return 2
    finally:
        cache.close()
    print(f"imported {args.file}: {result.added} summaries added, {result.present} already in the cache "
          f"({result.info.entries} in the bundle)", file=sys.stderr)
    return 0


def _info_cmd(args: argparse.Namespace) -> int:
    try:
        info = verify_bundle(args.file)
    except BundleError as e:
        print(f"lenscribe: {e}", file=sys.stderr)
        return 2
    json.dump({"path": str(info.path), "format": FORMAT, "version": info.version, "entries": info.entries,
               "sha256": info.sha256, "summary_ids": list(info.summary_ids), "created": info.created}, sys.stdout,
              indent=2)
    sys.stdout.write("\n")
    return 0
