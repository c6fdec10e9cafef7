#!/usr/bin/env python
"""Build the (code, summary) data set for training lenscribe's default model.

    PYTHONPATH=models:server python -m lenscribe_training.data.build_dataset --out .cache/data
        [--cache .cache/corpus] [--jobs 2] [--languages python,java,go,javascript,typescript] [--first-round]

1. fetch the pinned sources (corpus_sources.py) into the cache with pip / apt-get / npm, re-using what is there;
2. walk their source files in a fixed order (corpus_files.py) and chunk them with ``lenscribe.chunking``;
3. keep documented functions, methods and classes: code = the chunk without its own docstring, doc = the first
   sentence of the docstring / doc comment, cleaned; drop pairs like CodeSearchNet does (dataset_filters.py);
4. de-duplicate (normalised code; same name + same summary), split by package (no package in two splits; the
   second-round PyPI list, ``PYPI_TRAIN_ONLY``, goes to train only and loses de-duplication ties, so adding it left
   the held-out splits as they were);
5. write {train,valid,test}.jsonl sorted by id, stats.json, sources.json, and finally READY; with --undocumented
   also undocumented.jsonl (the undocumented chunks, for the teacher to label: ``lenscribe_training.teacher.teach``).

Same inputs -> byte-identical outputs: no time stamps, no set or dict-order iteration in what is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # one thread per worker process

from lenscribe_training.data import corpus_files, corpus_sources
from lenscribe_training.data.dataset_filters import (
    assign_splits,
    clean_rdoc,
    code_drop_reason,
    dedup,
    doc_drop_reason,
    drop_signature_line,
    name_drop_reason,
    normalize_summary,
    strip_leading_name,
)

log = logging.getLogger("build_dataset")

ROOT = Path(__file__).resolve().parents[3]
LANGUAGES = ("python", "java", "go", "javascript", "typescript")  # the default build
EXTRA_LANGUAGES = ("rust", "ruby", "php")  # opt-in: --languages python,java,go,javascript,typescript,rust,ruby,php
MAX_CODE_TOKENS = 512  # CodeT5 BPE tokens, <s> and </s> included
# Cheap bound before tokenizing: code this long cannot fit MAX_CODE_TOKENS (a token averages well under 16 chars)
MAX_CODE_CHARS = 16 * MAX_CODE_TOKENS
MIN_TEST = {"python": 1000, "java": 500, "go": 500, "javascript": 500, "typescript": 200, "rust": 300, "ruby": 300,
            "php": 300}
MIN_VALID = dict(MIN_TEST)
# Languages whose packages overlap are split together, so a package is in one split for all its languages.
SPLIT_GROUPS = (("python",), ("java",), ("go",), ("javascript", "typescript"), ("rust",), ("ruby",), ("php",))
FIELDS = ("id", "language", "package", "path", "name", "code", "doc")

# ------------------------------------------------------------------------------------------ per-file worker

_TOK = None


def _tokenizer():
    global _TOK
    if _TOK is None:
        from lenscribe.tokenization import build_tokenizer

        _TOK = build_tokenizer()
    return _TOK


def _truncate_to_tokens(code: str, enc, limit: int) -> str:
    """Cut ``code`` at the last line break that keeps it within ``limit`` tokens (specials included)."""
    # enc.offsets[i] is the char span of token i; tokens 0 and -1 are <s> / </s> with (0, 0)
    cut_token = limit - 2
    end_char = enc.offsets[cut_token][0] if cut_token < len(enc.offsets) - 1 else len(code)
    nl = code.rfind("\n", 0, end_char)
    return code[:nl].rstrip() if nl > 0 else code[:end_char].rstrip()


def process_file(args: tuple[str, str, str, str] | tuple[str, str, str, str, bool]
                 ) -> tuple[str, list[dict], dict[str, int]]:
    """One source file -> (candidate records, drop counts). Pure function of its input (runs in worker processes).

    With a fifth item True, undocumented chunks that pass the name and code filters are kept too, with ``doc`` None
    (the teacher's labelling pool); documented ones are the same records either way."""
    from lenscribe.chunking import chunk_text, first_sentence, strip_doc
    from lenscribe.model_input import prepare_code

    language, package, path, text = args[:4]
    undocumented = len(args) > 4 and bool(args[4])
    drops: Counter[str] = Counter()
    try:
        chunks = chunk_text(text, language, min_lines=1, docs=True)
    except Exception as e:  # a chunker failure on one file must not stop the build
        log.debug("chunking %s failed: %s", path, e)
        drops["file_chunk_error"] += 1
        return language, [], dict(drops)
    cands: list[dict[str, Any]] = []
    for ch in chunks:
        drops["chunks"] += 1
        summary: str | None = None
        if not ch.doc:
            drops["no_doc"] += 1
            if not undocumented:
                continue
        reason = name_drop_reason(ch.name, language, ch.kind)
        if reason is None and ch.doc:
            raw = drop_signature_line(ch.doc, ch.name) if language == "python" else ch.doc
            summary = first_sentence(raw)
            if language == "ruby":
                summary = clean_rdoc(summary)
            summary = normalize_summary(summary)
            if language == "go":
                summary = strip_leading_name(summary, ch.name)
            reason = doc_drop_reason(ch.doc, summary)
        if reason is None:
            if ch.kind != "class" and len(ch.text) > MAX_CODE_CHARS:
                reason = "code_too_long"
            else:
                code = prepare_code(strip_doc(ch))
                if ch.kind == "class" and len(code) > MAX_CODE_CHARS:
                    nl = code.rfind("\n", 0, MAX_CODE_CHARS)
                    code = code[: nl if nl > 0 else MAX_CODE_CHARS].rstrip()
                reason = code_drop_reason(code)
        if reason is not None:
            drops[reason] += 1
            continue
        cands.append({"kind": ch.kind, "name": ch.qualname or ch.name, "bare": ch.name, "line": ch.start[0],
                      "code": code, "doc": summary})
    if cands:
        encs = _tokenizer().encode_batch([c["code"] for c in cands])
        kept = []
        for c, enc in zip(cands, encs, strict=True):
            if len(enc.ids) > MAX_CODE_TOKENS:
                if c["kind"] != "class":
                    drops["code_too_long"] += 1
                    continue
                c["code"] = _truncate_to_tokens(c["code"], enc, MAX_CODE_TOKENS)
                drops["class_truncated (kept)"] += 1
                if code_drop_reason(c["code"]) is not None:
                    drops["code_too_short"] += 1
                    continue
            kept.append(c)
        cands = kept
    out = []
    for c in cands:
        out.append({"language": language, "package": package, "path": path, "name": c["name"], "bare": c["bare"],
                    "line": c["line"], "code": c["code"], "doc": c["doc"]})
    return language, out, dict(drops)


# ------------------------------------------------------------------------------------------ driver


def fetch_all(cache: Path, languages: tuple[str, ...], first_round: bool = False) -> list[corpus_sources.Fetched]:
    fetched: list[corpus_sources.Fetched] = []
    if "python" in languages:
        fetched += corpus_sources.fetch_pypi(cache)
        if not first_round:
            fetched += corpus_sources.fetch_pypi(cache, corpus_sources.PYPI_TRAIN_ONLY, train_only=True)
    debs = tuple(d for d in corpus_sources.DEBIAN_PACKAGES if d[2] in languages)
    if debs:
        fetched += corpus_sources.fetch_debian(cache, debs)
    if {"javascript", "typescript"} & set(languages):
        fetched += corpus_sources.fetch_npm(cache)
    return fetched


def iter_sources(fetched, cache: Path, languages: tuple[str, ...]):
    if "python" in languages:
        yield from corpus_files.iter_stdlib()
    for f in fetched:
        if f.kind == "pypi":
            yield from corpus_files.iter_pypi(f)
        elif f.kind == "debian":
            yield from corpus_files.iter_debian(f, cache)
        elif f.kind == "npm":
            yield from (sf for sf in corpus_files.iter_npm(f) if sf.language in languages
                        or (sf.language == "tsx" and "typescript" in languages))


def source_records(fetched, cache: Path, languages: tuple[str, ...] = LANGUAGES) -> list[dict]:
    out = []
    if "python" in languages:
        out.append({"kind": "python-stdlib", "name": "cpython", "version": sys.version.split()[0],
                    "license": "PSF-2.0", "file": "Lib/ of the interpreter running the build", "sha256": None})
    for f in fetched:
        rec = f.record()
        if f.kind == "pypi":
            rec["license"] = corpus_files.pypi_license(f)
        elif f.kind == "debian":
            rec["license"] = corpus_files.debian_license(f, cache)
        else:
            rec["license"] = corpus_files.npm_license(f)
        out.append(rec)
    return out


def make_id(rec: dict) -> str:
    h = hashlib.sha256(f"{rec['language']}\0{rec['path']}\0{rec['line']}\0{rec['name']}".encode("utf-8",
                                                                                              "surrogatepass"))
    return f"{rec['language']}-{h.hexdigest()[:16]}"


def write_jsonl(path: Path, records: list[dict], fields: tuple[str, ...] = FIELDS) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps({k: r[k] for k in fields}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a data set file (``[]`` when it is not there)."""
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_stats(splits: dict[str, list[dict]], assignment: dict[str, dict[str, str]],
                languages: tuple[str, ...]) -> dict:
    """stats.json's ``counts`` (rows per language and split) and ``packages`` (each split's packages)."""
    return {"counts": {lang: {s: sum(1 for r in splits[s] if r["language"] == lang) for s in splits}
                       for lang in languages},
            "packages": {lang: {s: sorted(p for p, a in assignment[lang].items() if a == s) for s in splits}
                         for lang in languages}}


HELD_OUT = Path(__file__).with_name("held_out.json")


def load_held_out(path: Path = HELD_OUT) -> dict[str, dict[str, str]]:
    """The pinned held-out packages: {language: {package: "valid" | "test"}} (DATA_CARD.md, "Splits")."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {lang: {p: split for split in ("valid", "test") for p in by_split.get(split, [])}
            for lang, by_split in data.items()}


def assign(recs: list[dict], languages: tuple[str, ...], train_only: set[str],
           held: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """{language: {package: split}} of every package in ``recs``. A language in ``held`` (the pinned held-out
    packages) takes its valid and test packages from there and puts every other package in train; any other language
    is split by quota, a group of languages at a time (``assign_splits``)."""
    held = held or {}
    out: dict[str, dict[str, str]] = {}
    for group in SPLIT_GROUPS:
        group_langs = [lang for lang in group if lang in languages]
        pinned = [lang for lang in group_langs if lang in held]
        for lang in pinned:
            packages = {r["package"] for r in recs if r["language"] == lang} | set(held[lang])
            out[lang] = {p: ("train" if p in train_only else held[lang].get(p, "train")) for p in sorted(packages)}
        group_langs = [lang for lang in group_langs if lang not in held]
        if not group_langs:
            continue
        grecs = [r for r in recs if r["language"] in group_langs]
        sizes = Counter(r["package"] for r in grecs if r["package"] not in train_only)
        total = sum(sizes.values())
        # the held-out minimum never takes more than 10% of a group per split
        mins_t = {"test": min(sum(MIN_TEST.get(lang, 0) for lang in group_langs), total // 10),
                  "valid": min(sum(MIN_VALID.get(lang, 0) for lang in group_langs), total // 10)}
        split_of = assign_splits(dict(sorted(sizes.items())), minimum=mins_t) | dict.fromkeys(train_only, "train")
        for lang in group_langs:
            out[lang] = {p: split_of[p] for p in sorted({r["package"] for r in grecs if r["language"] == lang})}
    return out


def dedup_and_split(cands: list[dict], languages: tuple[str, ...], train_only: set[str],
                    drops: dict[str, Counter[str]], held: dict[str, dict[str, str]] | None = None,
                    ) -> tuple[dict[str, list[dict]], dict[str, dict[str, str]]]:
    """De-duplicate the candidates and split them by package: (records per split, {language: {package: split}}).

    De-duplication keeps the first of a fixed order (language, first-round sources before ``train_only`` ones,
    package, path, position); the split quotas count first-round packages only and ``train_only`` packages all go to
    train, so adding train-only sources changes neither the held-out splits nor which of their examples survive.
    Drop counts are added to ``drops``.
    """
    cands = sorted(cands, key=lambda r: (r["language"], r["package"] in train_only, r["package"], r["path"],
                                         r["line"], r["name"], r["id"]))
    kept = []
    for lang in languages:
        c: dict[str, int] = {}
        kept += dedup([r for r in cands if r["language"] == lang], c)
        drops[lang].update(c)
    splits: dict[str, list[dict]] = {"train": [], "valid": [], "test": []}
    assignment = assign(kept, languages, train_only, held)
    for r in kept:
        if r["language"] in assignment:
            splits[assignment[r["language"]][r["package"]]].append(r)
    return splits, assignment


POOL_FIELDS = ("id", "language", "package", "path", "name", "split", "code")


def split_pool(pool: list[dict], splits: dict[str, list[dict]], assignment: dict[str, dict[str, str]],
               languages: tuple[str, ...]) -> list[dict]:
    """The undocumented chunks, de-duplicated by normalised code (among themselves and against the pairs) and given
    their package's split (a package with no kept pair goes to train: it is in no held-out split)."""
    from lenscribe_training.data.dataset_filters import code_key

    seen = {(r["language"], code_key(r["code"])) for recs in splits.values() for r in recs}
    out = []
    for r in sorted(pool, key=lambda r: (r["language"], r["package"], r["path"], r["line"], r["name"], r["id"])):
        key = (r["language"], code_key(r["code"]))
        if r["language"] not in languages or key in seen:
            continue
        seen.add(key)
        out.append(dict(r, split=assignment.get(r["language"], {}).get(r["package"], "train")))
    out.sort(key=lambda r: r["id"])
    return out


def build(out: Path, cache: Path, languages: tuple[str, ...], jobs: int, first_round: bool = False,
          undocumented: bool = False) -> dict:
    t0 = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    ready = out / "READY"
    if ready.exists():
        ready.unlink()
    fetched = fetch_all(cache, languages, first_round)
    log.info("fetched %d sources in %.0fs", len(fetched), time.monotonic() - t0)

    drops: dict[str, Counter[str]] = {lang: Counter() for lang in languages}
    files: Counter[str] = Counter()
    cands: list[dict] = []

    def tasks():
        for sf in iter_sources(fetched, cache, languages):
            lang = "typescript" if sf.language == "tsx" else sf.language
            files[lang] += 1
            yield (sf.language, sf.package, sf.path, sf.text, undocumented)

    def mined():
        if jobs > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(jobs) as pool:
                yield from pool.imap(process_file, tasks(), chunksize=8)  # results come back in input order
        else:
            yield from map(process_file, tasks())

    for n, (lang, recs, d) in enumerate(mined(), 1):
        if n % 2000 == 0:
            log.info("%d files, %d candidates, %.0fs", n, len(cands), time.monotonic() - t0)
        cands.extend(recs)
        drops["typescript" if lang == "tsx" else lang].update(d)
    log.info("mined %d candidates in %.0fs", len(cands), time.monotonic() - t0)

    for r in cands:
        if r["language"] == "tsx":
            r["language"] = "typescript"
        r["id"] = make_id(r)
    pool = [r for r in cands if r["doc"] is None]
    cands = [r for r in cands if r["doc"] is not None]
    train_only = {f.name for f in fetched if f.train_only}
    splits, assignment = dedup_and_split(cands, languages, train_only, drops, load_held_out())
    for name in splits:
        splits[name].sort(key=lambda r: r["id"])
        write_jsonl(out / f"{name}.jsonl", splits[name])

    stats = {
        "python_version": sys.version.split()[0],
        "max_code_tokens": MAX_CODE_TOKENS,
        "files": dict(sorted(files.items())),
        "drops": {lang: dict(sorted(drops[lang].items())) for lang in languages},
        **split_stats(splits, assignment, languages),
        "runtime_s": None,  # filled in the log only: outputs carry no timing
    }
    if undocumented:
        stats["undocumented"] = write_pool(out, split_pool(pool, splits, assignment, languages), languages)
    (out / "stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n")
    sources = source_records(fetched, cache, languages)
    (out / "sources.json").write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n")
    (out / "READY").write_text("".join(f"{n}.jsonl {len(splits[n])}\n" for n in splits))
    log.info("wrote %s in %.0fs: %s", out, time.monotonic() - t0, json.dumps(stats["counts"]))
    return stats


def write_pool(out: Path, pool: list[dict], languages: tuple[str, ...]) -> dict:
    """Write ``undocumented.jsonl`` (atomically); return its split counts per language."""
    write_jsonl(out / "undocumented.jsonl", pool, POOL_FIELDS)
    return {lang: dict(sorted(Counter(r["split"] for r in pool if r["language"] == lang).items()))
            for lang in languages}


def resplit(out: Path, held: dict[str, dict[str, str]] | None = None) -> dict:
    """Re-assign the splits of a built data folder in place by today's rules (the pinned held-out packages): the
    pairs and the undocumented pool stay the same rows, only their split changes. Returns the new counts."""
    missing = [name for name in ("train", "valid", "test") if not (out / f"{name}.jsonl").exists()]
    if missing:
        raise FileNotFoundError(f"{out}: no {', '.join(missing)}.jsonl to re-split")
    rows = [r for name in ("train", "valid", "test") for r in read_jsonl(out / f"{name}.jsonl")]
    languages = tuple(sorted({r["language"] for r in rows}))
    train_only = {name for name, _ in corpus_sources.PYPI_TRAIN_ONLY}
    assignment = assign(rows, languages, train_only, load_held_out() if held is None else held)
    splits: dict[str, list[dict]] = {"train": [], "valid": [], "test": []}
    for r in sorted(rows, key=lambda r: r["id"]):
        splits[assignment[r["language"]][r["package"]]].append(r)
    for name, recs in splits.items():
        write_jsonl(out / f"{name}.jsonl", recs)
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    stats.update(split_stats(splits, assignment, languages))
    if (out / "undocumented.jsonl").exists():
        pool = [dict(r, split=assignment.get(r["language"], {}).get(r["package"], "train"))
                for r in read_jsonl(out / "undocumented.jsonl")]
        stats["undocumented"] = write_pool(out, pool, languages)
    (out / "stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n")
    (out / "READY").write_text("".join(f"{n}.jsonl {len(splits[n])}\n" for n in splits))
    return stats["counts"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / ".cache" / "data")
    p.add_argument("--cache", type=Path, default=ROOT / ".cache" / "corpus")
    p.add_argument("--languages", default=",".join(LANGUAGES))
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--first-round", action="store_true",
                   help="leave out the train-only second-round PyPI list (the data of the shipped model's first stage)")
    p.add_argument("--undocumented", action="store_true",
                   help="also write undocumented.jsonl: undocumented chunks that pass the code filters, with their"
                   " package's split (the teacher's labelling pool); the pair files are the same either way")
    p.add_argument("--resplit", action="store_true",
                   help="re-assign the splits of the data folder --out in place (the pinned held-out packages, "
                   "held_out.json) without mining anything again")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.resplit:
        print(json.dumps(resplit(a.out.resolve())))
        return 0
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.INFO, format="%(asctime)s %(message)s")
    langs = tuple(x.strip() for x in a.languages.split(",") if x.strip())
    unknown = [x for x in langs if x not in LANGUAGES + EXTRA_LANGUAGES]
    if unknown:
        p.error(f"unknown language(s): {', '.join(unknown)}")
    build(a.out.resolve(), a.cache.resolve(), langs, a.jobs, a.first_round, a.undocumented)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
