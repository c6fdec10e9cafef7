"""Label the corpus's functions with the teacher: the student's training targets.

    PYTHONPATH=models:server nice -n 19 python -m lenscribe_training.teacher.teach .cache/data-all models/labels \\
        --teacher .cache/teacher/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf [--prompt plain-v2] \\
        [--until 13:05 | --seconds N] [--limit N] [--threads 2]

What gets labelled: the data set's documented functions (``train.jsonl``; ``valid.jsonl``: one label in
``--valid-every`` of each language comes from the valid split, held out to measure the student's agreement with its
teacher) and its undocumented ones (``undocumented.jsonl``,
written by ``build_dataset --undocumented``), in a fixed order that takes the languages in turn (so every language
grows at the same pace until one runs out) and, within a language, undocumented and documented code at
``--undocumented-share``. The test split is never labelled.

Append-only and resumable: each run writes a new gzip shard
``OUT/<prompt>/<teacher sha[:12]>/shard-<time>-<pid>.jsonl.gz``, flushed as complete gzip members every ``--flush``
rows (a torn last member of a killed run is ignored on reading), and skips every chunk hash that any shard already
holds for the same teacher and prompt. A row: ``hash`` (sha256 of
language and code: the chunk's key), ``id``, ``language``, ``split``, ``documented``, ``teacher`` (sha256),
``prompt`` (id), ``raw``, ``label`` (the cleaned reply, or null), ``refused`` (why not), ``changes``, token counts and
seconds. The process lowers its own priority (``os.nice``), logs rate and ETA, and stops by itself at ``--until`` /
``--seconds`` / ``--limit``, after the row in hand.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import signal
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from lenscribe.prompts import DEFAULT_PROMPT, PROMPTS
from lenscribe_training.runlog import Log

LANG_ORDER = ("python", "java", "go", "javascript", "typescript")
T = TypeVar("T")


def chunk_hash(language: str, code: str) -> str:
    return hashlib.sha256(f"{language}\0{code}".encode("utf-8", "surrogatepass")).hexdigest()


def read_rows(path: Path) -> Iterator[dict]:
    """The rows of one shard, member by member; a member without its gzip trailer (a killed run's torn write) or
    with a bad checksum ends the shard: only rows whose member was written whole count."""
    try:
        data = path.read_bytes()
    except OSError:
        return
    while data:
        d = zlib.decompressobj(wbits=31)
        try:
            text = d.decompress(data) + d.flush()
        except zlib.error:
            return
        if not d.eof:
            return
        for line in text.decode("utf-8", "replace").splitlines():
            try:
                yield json.loads(line)
            except ValueError:
                return
        data = d.unused_data


def shard_dir(out: Path, prompt_id: str, teacher_sha: str) -> Path:
    return out / prompt_id / teacher_sha[:12]


def load_done(folder: Path) -> set[str]:
    return {r["hash"] for p in sorted(folder.glob("shard-*.jsonl.gz")) for r in read_rows(p) if "hash" in r}


def _interleave(doc: list[T], undoc: list[T], undocumented_share: float) -> list[T]:
    seq: list[T] = []
    owed = 0.0
    while doc or undoc:
        owed += undocumented_share
        if undoc and (owed >= 1 or not doc):
            seq.append(undoc.pop())
            owed -= 1
        elif doc:
            seq.append(doc.pop())
    return seq


class WorkItem(dict):
    """One function to label: ``id``, ``language``, ``split``, ``documented``, ``name`` and ``at`` (its data set file
    and the byte offset of its row). ``item["code"]`` reads the code from there when asked for: building the whole pool
    (695k functions) peaks at 0.5 GB, where it took 1.3 GB with the code held in it."""

    def __missing__(self, key: str) -> str:
        if key != "code":
            raise KeyError(key)
        path, offset = self["at"]
        with open(path, "rb") as f:
            f.seek(offset)
            return str(json.loads(f.readline())["code"])


def _rows_at(path: Path) -> Iterator[tuple[int, dict]]:
    """(byte offset, row) of each row of a data set file. Read as bytes: a JSON line holds no raw line break, so only
    ``\n`` ends one, whatever ``\r`` or U+2028 its code holds (escaped or not)."""
    if not path.exists():
        return
    with open(path, "rb") as f:
        offset = 0
        for line in f:
            if line.strip():
                yield offset, json.loads(line)
            offset += len(line)


def work_items(data: Path, undocumented_share: float = 0.5, valid_every: int = 20, seed: int = 0) -> list[WorkItem]:
    """The labelling order (deterministic): per language, undocumented and documented code interleaved at
    ``undocumented_share``, each list shuffled with ``seed``, and every ``valid_every``-th item of a language taken
    from its valid split (held out) while that lasts; then the languages taken in turn."""
    pools: dict[str, dict[tuple[str, str], list[WorkItem]]] = {}
    for name, documented in (("train.jsonl", True), ("valid.jsonl", True), ("undocumented.jsonl", False)):
        path = data / name
        for offset, r in _rows_at(path):
            split = r.get("split") or name.split(".")[0]
            if split not in ("train", "valid"):
                continue  # the test split is never labelled
            kind = "undoc" if not documented else "doc"
            pools.setdefault(r["language"], {}).setdefault((split, kind), []).append(WorkItem(
                id=r["id"], language=r["language"], split=split, documented=documented, name=r.get("name", ""),
                at=(str(path), offset)))
    rng = random.Random(seed)
    ordered: dict[str, list[WorkItem]] = {}
    for lang in sorted(pools, key=lambda x: (LANG_ORDER.index(x) if x in LANG_ORDER else 99, x)):
        seqs = {}
        for split in ("train", "valid"):
            doc, undoc = pools[lang].get((split, "doc"), []), pools[lang].get((split, "undoc"), [])
            for lst in (doc, undoc):
                lst.sort(key=lambda r: r["id"])
                rng.shuffle(lst)
            seqs[split] = _interleave(doc, undoc, undocumented_share)[::-1]  # popped from the end below
        train, valid = seqs["train"], seqs["valid"]
        seq: list[WorkItem] = []
        while train:  # valid code only in its places: what is left of it when train runs out is not labelled
            seq.append((valid if valid and (len(seq) + 1) % valid_every == 0 else train).pop())
        ordered[lang] = seq
    out, i = [], 0
    while any(i < len(s) for s in ordered.values()):
        out += [s[i] for s in ordered.values() if i < len(s)]
        i += 1
    return out


def _kind(name: str, code: str) -> str:
    first = code.lstrip().split("\n", 1)[0]
    if first.startswith(("class ", "public class", "export class", "abstract class")) or " class " in f" {first} ":
        return "class"
    return "method" if "." in name else "function"


def deadline_from(until: str | None, seconds: float | None, now: datetime | None = None) -> float | None:
    """``--until HH:MM`` (today, local time; tomorrow if already past) or ``--seconds``, as a time.time() value."""
    if seconds is not None:
        return time.time() + seconds
    if not until:
        return None
    now = now or datetime.now()
    hh, mm = (int(x) for x in until.split(":"))
    t = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if t <= now:
        t += timedelta(days=1)
    return t.timestamp()


class ShardWriter:
    """Appends rows to a new gzip shard, one complete gzip member per ``flush`` rows (and on close)."""

    def __init__(self, folder: Path, flush: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"shard-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.jsonl.gz"
        self.flush_every = flush
        self.pending: list[str] = []

    def add(self, row: dict) -> None:
        self.pending.append(json.dumps(row, ensure_ascii=False) + "\n")
        if len(self.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        data = gzip.compress("".join(self.pending).encode("utf-8"), mtime=0)
        with open(self.path, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.pending = []


def label(items: Iterable[dict], teacher, prompt, writer: ShardWriter, done: set[str], log: Log,
          deadline: float | None = None, limit: int | None = None, total: int | None = None,
          stop: Callable[[], bool] = lambda: False) -> Counter:
    """Label ``items`` not in ``done`` until the deadline, the limit or ``stop()``; returns counts."""
    counts: Counter[str] = Counter()
    t0 = time.time()
    last = t0
    for it in items:
        if limit is not None and counts["labelled"] >= limit:
            counts["stopped: limit"] += 1
            break
        if deadline is not None and time.time() >= deadline:
            counts["stopped: deadline"] += 1
            break
        if stop():
            counts["stopped: signal"] += 1
            break
        code = it["code"]
        h = chunk_hash(it["language"], code)
        if h in done:
            continue
        a = teacher.ask(prompt, code, it["language"], _kind(it["name"], code))
        writer.add({"hash": h, "id": it["id"], "language": it["language"], "split": it["split"],
                    "documented": it["documented"], "teacher": teacher.sha256, "prompt": prompt.id, "raw": a.raw,
                    "label": a.reply.text, "refused": a.reply.refused, "changes": list(a.reply.changes),
                    "prompt_tokens": a.prompt_tokens, "gen_tokens": a.gen_tokens, "seconds": round(a.seconds, 3)})
        done.add(h)
        counts["labelled"] += 1
        counts[f"lang {it['language']}"] += 1
        counts["refused" if a.reply.refused else "kept"] += 1
        if a.reply.refused:
            counts[f"refused: {a.reply.refused}"] += 1
        for c in a.reply.changes:
            counts[f"clean: {c}"] += 1
        counts["prompt_tokens"] += a.prompt_tokens
        counts["gen_tokens"] += a.gen_tokens
        now = time.time()
        if now - last >= 60:
            last = now
            rate = counts["labelled"] / (now - t0)
            left = (total - len(done)) if total else None
            eta = f", {left:,} left: ETA {left / rate / 3600:.1f} h" if left and rate else ""
            log(f"{counts['labelled']:,} labelled this run ({len(done):,} in all), {rate * 3600:,.0f}/h, "
                f"{counts['prompt_tokens'] / (now - t0):.0f} prompt + {counts['gen_tokens'] / (now - t0):.1f} "
                f"generated tok/s, refused {counts['refused']}{eta}")
    writer.flush()
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the data set folder (train/valid.jsonl, undocumented.jsonl)")
    ap.add_argument("out", type=Path, help="the labels folder (shards go to OUT/<prompt>/<teacher sha>/)")
    ap.add_argument("--teacher", type=Path, required=True,
                    help="a fetched GGUF (python -m lenscribe_training.teacher.fetch)")
    ap.add_argument("--prompt", default=DEFAULT_PROMPT.id, choices=sorted(PROMPTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--until", default=None, help="stop at this local time, HH:MM")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--limit", type=int, default=None, help="stop after this many new labels")
    ap.add_argument("--undocumented-share", type=float, default=0.5)
    ap.add_argument("--valid-every", type=int, default=20,
                    help="one label in N of each language from the valid split (held out)")
    ap.add_argument("--flush", type=int, default=25, help="rows per gzip member")
    ap.add_argument("--nice", type=int, default=19, help="raise the process's niceness by this much (default 19)")
    a = ap.parse_args(argv)
    if a.nice:
        os.nice(a.nice)
    # SIGTERM or ^C end the run after the row in hand (a flag: an exception raised inside llama.cpp's C call can be
    # lost), and the rows written so far are flushed as a whole gzip member
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    deadline = deadline_from(a.until, a.seconds)
    from lenscribe_training.teacher.runner import Teacher, file_sha256

    prompt = PROMPTS[a.prompt]
    sha = file_sha256(a.teacher)
    folder = shard_dir(a.out, prompt.id, sha)
    log = Log(None)
    done = load_done(folder)
    items = work_items(a.data, a.undocumented_share, a.valid_every)
    if not items:
        print(f"teach: nothing to label in {a.data} (train.jsonl / undocumented.jsonl)", file=sys.stderr)
        return 2
    log(f"{len(items):,} items in {a.data}, {len(done):,} already labelled in {folder}; prompt {prompt.id}, "
        f"teacher {a.teacher.name} ({sha[:12]})"
        + (f", until {datetime.fromtimestamp(deadline):%H:%M:%S}" if deadline else ""))
    teacher = Teacher.open(a.teacher, a.threads)
    writer = ShardWriter(folder, a.flush)
    try:
        counts = label(items, teacher, prompt, writer, done, log, deadline, a.limit, total=len(items),
                       stop=stopping.is_set)
    finally:
        writer.flush()
        teacher.close()
    log("done: " + json.dumps(dict(sorted(counts.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
