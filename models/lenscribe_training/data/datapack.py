"""A data pack: the training data set tokenized once into one compressed ``.npz``, small enough to send to a lent GPU
machine (no tokenizer, no JSONL, no lenscribe install needed there) and fast to batch from.

    python -m lenscribe_training.data.datapack DATA_DIR PACK.npz [--max-src 128] [--max-tgt 48] [--languages python,go]
        [--unlabeled FILE.jsonl] [--valid-per-language 400]

Per split (``train``, ``valid``, ``test``): ``{split}_src`` (N, max_src) and ``{split}_tgt`` (N, max_tgt) uint16
token ids, 0-padded, cut as the run-time summarizer cuts its input (head kept, ``</s>`` last: lenscribe.model_input);
``{split}_lang`` uint8 language index (``languages`` array); valid/test also keep the reference sentences
(``{split}_refs``) for BLEU. ``code_src``: extra code-only rows (functions without a docstring) for pretraining.
"""

from __future__ import annotations

import argparse
import json
import lzma
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "valid", "test")
FORMAT = "lenscribe-datapack/2"  # 2: token rows stored ragged and xz-compressed (a third of zlib-on-padded)


def _store(arrays: dict, key: str, seqs: list[list[int]], width: int) -> None:
    """Rows cut to ``width``, stored as their lengths and one xz-compressed run of uint16 ids."""
    from lenscribe.model_input import truncate_ids  # the run-time summarizer's truncation
    from lenscribe.tokenization import EOS_ID

    rows = [truncate_ids(s, width, EOS_ID) for s in seqs]
    arrays[f"{key}_len"] = np.array([len(r) for r in rows], dtype=np.uint16)
    flat = np.fromiter((t for r in rows for t in r), dtype="<u2", count=int(arrays[f"{key}_len"].sum()))
    arrays[f"{key}_xz"] = np.frombuffer(_xz(flat.tobytes()), dtype=np.uint8)
    arrays[f"{key}_width"] = np.array(width)


def _xz(data: bytes) -> bytes:
    """xz (preset 6) with a dictionary the size of the stream, up to 1 GiB: a row that comes again anywhere in it (a
    teacher label drawn ten times, a function two packages vendor) is stored as a reference to the first. The preset's
    own 8 MiB window forgets rows written more than about four million tokens earlier: on the GPU mix of 10,024 labels
    (x10) and 290,005 docstring pairs the source stream is 15.88 MB instead of 18.66 (a 64 MiB window measured).
    Reading needs as much memory."""
    size = min(max(len(data), 1 << 20), 1 << 30)
    lzma2 = {"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": size}
    return lzma.compress(data, format=lzma.FORMAT_XZ, filters=[lzma2])


def _load(z, key: str) -> np.ndarray:
    """(N, width) uint16, 0-padded."""
    lengths = z[f"{key}_len"].astype(np.int64)
    width = int(z[f"{key}_width"])
    flat = np.frombuffer(lzma.decompress(z[f"{key}_xz"].tobytes()), dtype="<u2")
    out = np.zeros((len(lengths), width), dtype=np.uint16)
    out[np.arange(width)[None, :] < lengths[:, None]] = flat
    return out


def _read(path: Path, languages: set[str] | None, need_doc: bool = True) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if languages is not None and r.get("language") not in languages:
                continue
            if not isinstance(r.get("code"), str) or not r["code"].strip():
                continue
            if need_doc and not (isinstance(r.get("doc"), str) and r["doc"].strip()):
                continue
            rows.append(r)
    return rows


def build_pack(data_dir: Path, out: Path, max_src: int = 128, max_tgt: int = 48, languages: list[str] | None = None,
               unlabeled: Path | None = None, valid_per_language: int | None = None, seed: int = 0) -> dict:
    from lenscribe.model_input import prepare_code
    from lenscribe.tokenization import build_tokenizer

    tok = build_tokenizer()
    wanted = set(languages) if languages else None
    rows = {s: _read(data_dir / f"{s}.jsonl", wanted) for s in SPLITS if (data_dir / f"{s}.jsonl").exists()}
    langs = sorted({r["language"] for split in rows.values() for r in split})
    arrays: dict[str, np.ndarray] = {"languages": np.array(langs), "format": np.array(FORMAT),
                                     "shape": np.array([max_src, max_tgt])}
    stats: dict = {"format": FORMAT, "max_src": max_src, "max_tgt": max_tgt, "languages": langs, "splits": {}}
    rng = np.random.default_rng(seed)
    for split, recs in rows.items():
        if split != "train" and valid_per_language:
            keep = []
            for lang in langs:
                mine = [r for r in recs if r["language"] == lang]
                idx = np.sort(rng.permutation(len(mine))[:valid_per_language])
                keep += [mine[i] for i in idx]
            recs = keep
        codes = [prepare_code(r["code"]) for r in recs]
        docs = [" ".join(r["doc"].split()) for r in recs]
        src = [e.ids for e in tok.encode_batch(codes)]
        tgt = [e.ids for e in tok.encode_batch(docs)]
        _store(arrays, f"{split}_src", src, max_src)
        _store(arrays, f"{split}_tgt", tgt, max_tgt)
        arrays[f"{split}_lang"] = np.array([langs.index(r["language"]) for r in recs], dtype=np.uint8)
        if split != "train":
            arrays[f"{split}_refs"] = np.array(docs)
        stats["splits"][split] = {lang: int(sum(r["language"] == lang for r in recs)) for lang in langs}
    if unlabeled is not None:
        codes = [prepare_code(r["code"]) for r in _read(unlabeled, wanted, need_doc=False)]
        _store(arrays, "code_src", [e.ids for e in tok.encode_batch(codes)], max_src)
        stats["code_only"] = len(codes)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub takes the first keyword for allow_pickle
    stats["bytes"] = out.stat().st_size
    return stats


@dataclass
class Split:
    src: np.ndarray  # (N, S) uint16
    tgt: np.ndarray  # (N, T) uint16
    lang: np.ndarray  # (N,) uint8
    refs: list[str] | None

    def __len__(self) -> int:
        return len(self.src)

    @property
    def src_len(self) -> np.ndarray:
        return (self.src != 0).sum(1)

    @property
    def tgt_len(self) -> np.ndarray:
        return (self.tgt != 0).sum(1)


class Pack:
    def __init__(self, path: Path):
        z = np.load(path)
        if str(z["format"]) != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} pack")
        self.languages = [str(x) for x in z["languages"]]
        self.max_src, self.max_tgt = (int(x) for x in z["shape"])
        self.splits = {}
        for s in SPLITS:
            if f"{s}_src_xz" in z:
                refs = [str(x) for x in z[f"{s}_refs"]] if f"{s}_refs" in z else None
                self.splits[s] = Split(_load(z, f"{s}_src"), _load(z, f"{s}_tgt"), z[f"{s}_lang"], refs)
        self.code_src = _load(z, "code_src") if "code_src_xz" in z else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--max-src", type=int, default=128)
    p.add_argument("--max-tgt", type=int, default=48)
    p.add_argument("--languages", default=None)
    p.add_argument("--unlabeled", type=Path, default=None)
    p.add_argument("--valid-per-language", type=int, default=None,
                   help="keep this many valid/test rows per language (a fixed random subset)")
    a = p.parse_args(argv)
    langs = [x for x in a.languages.split(",") if x] if a.languages else None
    print(json.dumps(build_pack(a.data_dir, a.out, a.max_src, a.max_tgt, langs, a.unlabeled,
                                a.valid_per_language), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
