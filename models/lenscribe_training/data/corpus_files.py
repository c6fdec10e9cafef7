"""Source files of the fetched corpus, in a fixed order: (language, package, path, text) per file.

Archives are read in place (wheels and src.zip with zipfile, npm tarballs with tarfile); Debian packages are unpacked
once with dpkg-deb. Paths are sorted, so the same inputs give the same sequence.
"""

from __future__ import annotations

import email.parser
import io
import logging
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lenscribe_training.data.corpus_sources import DEBIAN_PACKAGES, Fetched
from lenscribe_training.data.dataset_filters import is_test_path

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 600_000
PY_EXT = (".py",)
JS_EXT = {".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
          ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx"}


@dataclass(frozen=True)
class SourceFile:
    language: str
    package: str  # split unit: no package is in two splits
    path: str  # where it came from, e.g. "requests-2.34.2/requests/api.py"
    text: str


def _decode(data: bytes) -> str | None:
    if len(data) > MAX_FILE_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --------------------------------------------------------------------------------------------- Python stdlib

def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


_STDLIB_SKIP_TOP = {"site-packages", "dist-packages", "test", "idlelib", "lib2to3", "turtledemo", "ensurepip",
                    "config-3.11-x86_64-linux-gnu", "__pycache__", "tkinter", "pydoc_data", "encodings"}


def iter_stdlib() -> Iterator[SourceFile]:
    """The running interpreter's standard library; each top-level module / package is one split unit."""
    root = stdlib_dir()
    version = sys.version.split()[0]
    for p in sorted(root.rglob("*.py"), key=lambda q: q.relative_to(root).as_posix()):
        rel = p.relative_to(root).as_posix()
        top = rel.split("/", 1)[0]
        if top in _STDLIB_SKIP_TOP or top.startswith("config-") or is_test_path(rel) or "__pycache__" in rel:
            continue
        text = _decode(p.read_bytes())
        if text is None:
            continue
        mod = top[:-3] if top.endswith(".py") else top
        yield SourceFile("python", f"cpython-stdlib:{mod}", f"cpython-{version}/Lib/{rel}", text)


# --------------------------------------------------------------------------------------------- PyPI archives

def _wheel_skip(rel: str) -> bool:
    first = rel.split("/", 1)[0]
    return first.endswith((".dist-info", ".data")) or is_test_path(rel)


def iter_pypi(f: Fetched) -> Iterator[SourceFile]:
    base = f"{f.name}-{f.version}"
    if f.path.name.endswith(".whl") or f.path.name.endswith(".zip"):
        with zipfile.ZipFile(f.path) as z:
            for name in sorted(z.namelist()):
                if not name.endswith(PY_EXT) or _wheel_skip(name):
                    continue
                text = _decode(z.read(name))
                if text is not None:
                    yield SourceFile("python", f.name, f"{base}/{name}", text)
    else:
        for name, data in _read_tar(f.path):
            rel = name.split("/", 1)[1] if "/" in name else name
            if not rel.endswith(PY_EXT) or _wheel_skip(rel):
                continue
            text = _decode(data)
            if text is not None:
                yield SourceFile("python", f.name, f"{base}/{rel}", text)


def pypi_license(f: Fetched) -> str:
    """License from the wheel's METADATA (License-Expression, else License, else the OSI classifiers)."""
    try:
        with zipfile.ZipFile(f.path) as z:
            meta = next((n for n in z.namelist() if n.endswith(".dist-info/METADATA")), None)
            if meta is None:
                return "unknown"
            msg = email.parser.Parser().parsestr(z.read(meta).decode("utf-8", "replace"), headersonly=True)
    except zipfile.BadZipFile:
        return "unknown"
    if msg.get("License-Expression"):
        return msg["License-Expression"].strip()
    classifiers = [c.split("::")[-1].strip() for c in msg.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    lic = (msg.get("License") or "").strip()
    if lic and "\n" not in lic and len(lic) < 80:
        return lic
    for lf in msg.get_all("License-File") or []:  # no declared license: recognise the bundled license text
        with zipfile.ZipFile(f.path) as z:
            names = [n for n in z.namelist() if n.endswith("/" + lf) and ".dist-info/" in n]
            if names:
                guess = license_from_text(z.read(names[0]).decode("utf-8", "replace"))
                if guess:
                    return guess + " (license file)"
    return "see package metadata"


def license_from_text(text: str) -> str | None:
    t = " ".join(text.split())
    if "Permission is hereby granted, free of charge" in t:
        return "MIT"
    if "Apache License" in t and "Version 2.0" in t:
        return "Apache-2.0"
    if "Redistribution and use in source and binary forms" in t:
        return "BSD-3-Clause" if "endorse or promote" in t else "BSD-2-Clause"
    return None


# --------------------------------------------------------------------------------------------- Debian packages

def unpack_deb(f: Fetched, cache: Path) -> Path:
    dest = cache / "debian" / "unpacked" / f"{f.name}_{f.version}"
    done = dest / ".unpacked"
    if not done.exists():
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(f.path), str(dest)], check=True)
        done.write_text("ok\n")
    return dest


def _go_package(rel: str) -> str:
    parts = rel.split("/")
    if parts[0] in ("cmd", "internal", "runtime") and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0]


def iter_debian(f: Fetched, cache: Path) -> Iterator[SourceFile]:
    lang = {n: lang for n, _v, lang in DEBIAN_PACKAGES}.get(f.name)
    root = unpack_deb(f, cache)
    if lang == "java":
        srczip = next(iter(sorted(root.rglob("src.zip"))))
        with zipfile.ZipFile(srczip) as z:
            for name in sorted(z.namelist()):
                if not name.endswith(".java") or is_test_path(name) or name.endswith(("package-info.java",
                                                                                       "module-info.java")):
                    continue
                module = name.split("/", 1)[0]
                if module.startswith(("jdk.internal", "jdk.incubator")) or module in ("jdk.localedata", "jdk.charsets"):
                    continue
                text = _decode(z.read(name))
                if text is not None:
                    yield SourceFile("java", f"openjdk-17:{module}", f"openjdk-17/{name}", text)
    elif lang == "go":
        src = next(iter(sorted(root.glob("usr/share/go-*/src"))))
        for p in sorted(src.rglob("*.go"), key=lambda q: q.relative_to(src).as_posix()):
            rel = p.relative_to(src).as_posix()
            if rel.endswith("_test.go") or is_test_path(rel) or "/vendor/" in f"/{rel}":
                continue
            text = _decode(p.read_bytes())
            if text is None or "// Code generated" in text[:2000] or "DO NOT EDIT" in text[:2000]:
                continue
            yield SourceFile("go", f"go-1.19:{_go_package(rel)}", f"go-1.19/src/{rel}", text)


    elif lang == "rust":
        for crate_dir in sorted(root.glob("usr/share/cargo/registry/*")):
            crate = crate_dir.name
            for p in sorted(crate_dir.rglob("*.rs"), key=lambda q: q.relative_to(crate_dir).as_posix()):
                rel = p.relative_to(crate_dir).as_posix()
                if not rel.startswith("src/") or is_test_path(rel) or rel.endswith(("/tests.rs", "/test.rs")):
                    continue
                text = _decode(p.read_bytes())
                if text is not None:
                    yield SourceFile("rust", f"crate:{crate.rsplit('-', 1)[0]}", f"{crate}/{rel}", text)
    elif lang in ("ruby", "php"):
        ext = ".rb" if lang == "ruby" else ".php"
        for p in sorted(root.rglob(f"*{ext}"), key=lambda q: q.relative_to(root).as_posix()):
            rel = p.relative_to(root).as_posix()
            if not rel.startswith("usr/") or is_test_path(rel) or p.is_symlink():
                continue
            text = _decode(p.read_bytes())
            if text is not None:
                yield SourceFile(lang, f"debian:{f.name}", f"{f.name}-{f.version}/{rel}", text)


def debian_license(f: Fetched, cache: Path) -> str:
    root = unpack_deb(f, cache)
    if f.name.startswith("openjdk"):
        return "GPL-2.0-only WITH Classpath-exception-2.0 (OpenJDK)"
    copy = sorted(root.glob("usr/share/doc/*/copyright"))
    if copy:
        text = copy[0].read_text(errors="replace")
        m = re.search(r"^Files: \*\s*\n(?:.*\n)*?License: (\S+)", text, re.MULTILINE)
        if m:
            return "BSD-3-Clause (the Go license)" if m.group(1) == "Go" else m.group(1)
    return "see Debian copyright file"


# --------------------------------------------------------------------------------------------- npm tarballs

_MINIFIED = re.compile(r"[^\n]{1500}")


def _read_tar(path: Path) -> list[tuple[str, bytes]]:
    """All regular files of a tarball, read in archive order (no seeking back in the gzip stream), sorted by name."""
    out = []
    with tarfile.open(path, "r:*") as t:
        for m in t:
            member = t.extractfile(m) if m.isfile() and m.size <= MAX_FILE_BYTES else None
            if member is not None:
                out.append((m.name, member.read()))
    return sorted(out)


def iter_npm(f: Fetched) -> Iterator[SourceFile]:
    members = _read_tar(f.path)
    rels = [name.split("/", 1)[1] if "/" in name else name for name, _ in members]
    # Prefer the package's own sources when it ships them next to the built copies.
    has_src = any(r.startswith(("src/", "lib/")) and r.endswith(tuple(JS_EXT)) for r in rels)
    for m, rel in zip(members, rels, strict=True):
        ext = "." + rel.rsplit(".", 1)[-1] if "." in rel else ""
        lang = JS_EXT.get(ext)
        if lang is None or is_test_path(rel):
            continue
        top = rel.split("/", 1)[0]
        if has_src and "/" in rel and top not in ("src", "lib", "source", "es", "esm") and top != rel:
            continue
        if any(seg in ("dist", "umd", "bundles", "min", "cjs", "esm5", "esm2015", "fesm2015", "fesm2022")
               for seg in rel.split("/")[:-1]) and has_src:
            continue
        text = _decode(m[1])
        if text is None or _MINIFIED.search(text):
            continue
        yield SourceFile(lang if lang != "tsx" else "tsx", f"npm:{f.name}", f"{f.name}-{f.version}/{rel}", text)


def npm_license(f: Fetched) -> str:
    import json

    with tarfile.open(f.path) as t:
        for m in t.getmembers():
            member = t.extractfile(m) if m.name.count("/") == 1 and m.name.endswith("/package.json") else None
            if member is not None:  # None also for a package.json that is no regular file (a link)
                try:
                    meta = json.load(io.TextIOWrapper(member, encoding="utf-8"))
                except ValueError:
                    break
                lic = meta.get("license") or meta.get("licenses")
                if isinstance(lic, dict):
                    lic = lic.get("type")
                if isinstance(lic, list):
                    lic = " OR ".join(str(x.get("type", x)) if isinstance(x, dict) else str(x) for x in lic)
                return str(lic or "unknown")
    return "unknown"
