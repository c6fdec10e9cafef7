"""The student's data set: teacher labels mixed with the docstring pairs, as a data folder the trainers read.

    PYTHONPATH=models:server python -m lenscribe_training.teacher.mix .cache/data-all models/labels OUT \\
        [--prompt specific-v2] [--teacher-sha SHA] [--labels 2000] [--pairs-per-label 1.0] [--label-repeat 1]
        [--label-form full|lead-clause] [--seed 0]

OUT gets what ``lenscribe_training.data.datapack`` and ``lenscribe eval`` read:

- ``train.jsonl``: the first ``--labels`` kept teacher labels of the train split, in labelling order (so 2k, 5k, 10k
  ... are nested: points of one learning curve), each as a record whose ``doc`` is the teacher's label, plus
  ``--pairs-per-label`` docstring pairs per label drawn (seeded) from the data set's train split: the mix;
- ``valid.jsonl`` and ``test.jsonl``: the data set's own (docstring references), unchanged, so BLEU stays comparable;
- ``valid_teacher.jsonl``: every kept label of the valid split (held out: never in train) with the teacher's label as
  the reference: ``lenscribe eval OUT/valid_teacher.jsonl --model M`` is the student's agreement with its teacher.

A label row is joined to its code through the data set's id (``train.jsonl``, ``valid.jsonl``,
``undocumented.jsonl``) and takes the split the data set gives it now; a row whose id the data set no longer has (a
test function among them), or whose code hash differs, is left out and counted.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from lenscribe.prompts import clean_reply, current
from lenscribe_training.data.build_dataset import read_jsonl
from lenscribe_training.teacher.teach import chunk_hash, read_rows

FIELDS = ("id", "language", "package", "path", "name", "code", "doc")
# the teacher's sentence goes on after its main clause: ", handling X", ", and returns Y", ", which ...", ", using ..."
TRAILING_CLAUSE = re.compile(r",\s+(?:and|or|then|while|which|where|otherwise|if|so|with|based on|\w+ing)\b")
LABEL_FORMS = ("full", "lead-clause")


def lead_clause(label: str, min_words: int = 4) -> str:
    """The label's main clause: what comes before its first trailing clause (a comma and then "and", "which",
    "handling", ...), as a sentence; the label itself where there is none or the clause would keep fewer than
    ``min_words`` words. ", and" / ", or" after a short item ("`a`, `b`, and `c`") ends a list, not a clause. A small
    student learns the teacher's "…, handling X, and returns Y" style before its content (issue 23); this form keeps
    the content it can learn."""
    for m in TRAILING_CLAUSE.finditer(label):
        head = label[:m.start()].rstrip(" ,;:")
        item = head.rsplit(",", 1)[-1]
        if m.group(0).split()[-1] in ("and", "or") and "," in head and len(item.split()) < 3:
            continue  # the last item of a list
        return head + "." if len(head.split()) >= min_words else label
    return label


def write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps({k: r.get(k, "") for k in FIELDS}, ensure_ascii=False) + "\n")


def label_rows(folder: Path) -> list[dict]:
    """The kept labels of every shard in ``folder``, in the order they were made (shard name, then row); a row's raw
    reply is cleaned again with today's clean-up of its prompt's wording (``lenscribe.prompts.current``)."""
    out = []
    for p in sorted(folder.glob("shard-*.jsonl.gz")):
        for r in read_rows(p):
            prompt = current(r.get("prompt", ""))
            label = clean_reply(r["raw"], prompt).text if prompt is not None and "raw" in r else r.get("label")
            if label:
                out.append(dict(r, label=label))
    return out


def join(data: Path, labels: list[dict], n_labels: int | None = None) -> tuple[list[dict], list[dict], list[dict],
                                                                              Counter[str]]:
    """(the first ``n_labels`` train labels, every valid label, the data set's train pairs, counts), each label joined
    to its code as a record whose ``doc`` is the teacher's label. A label's split is the one the data set gives its
    code now (a rebuilt data set may move a package): test functions are not read at all, so a label of one is left
    out."""
    pairs = read_jsonl(data / "train.jsonl")  # read once: the join below and the docstring pairs of the mix
    files = {"train": pairs, "valid": read_jsonl(data / "valid.jsonl"),
             "undocumented": read_jsonl(data / "undocumented.jsonl")}
    by_id = {r["id"]: dict(r, split=r.get("split") or name) for name, rows in files.items() for r in rows}
    counts: Counter[str] = Counter()
    train: list[dict] = []
    valid_teacher: list[dict] = []
    for lab in labels:
        rec = by_id.get(lab["id"])
        if rec is None or chunk_hash(rec["language"], rec["code"]) != lab["hash"]:
            counts["left out: not in the data set"] += 1
            continue
        row = dict(rec, doc=lab["label"])
        if rec["split"] == "valid":
            valid_teacher.append(row)
        elif rec["split"] == "train" and (n_labels is None or len(train) < n_labels):
            train.append(row)
    return train, valid_teacher, pairs, counts


def build_mix(data: Path, labels: list[dict], out: Path, n_labels: int | None = None, pairs_per_label: float = 1.0,
              seed: int = 0, label_form: str = "full", label_repeat: int = 1) -> dict:
    """The mix in ``out``; ``label_form`` "lead-clause" trains on each label's main clause (``lead_clause``), the
    held-out labels stay whole. ``label_repeat`` puts each train label in the mix that many times: with every docstring
    pair in it (a large ``pairs_per_label``), the labels would otherwise be a few rows in a hundred."""
    if label_repeat < 1:
        raise ValueError(f"label_repeat {label_repeat}: at least 1")
    train, valid_teacher, pairs, counts = join(data, labels, n_labels)
    if label_form == "lead-clause":
        shortened = [dict(r, doc=lead_clause(r["doc"])) for r in train]
        counts["labels cut to their lead clause"] = sum(a["doc"] != b["doc"] for a, b in zip(train, shortened,
                                                                                                 strict=True))
        train = shortened
    elif label_form != "full":
        raise ValueError(f"label form {label_form!r}: one of {LABEL_FORMS}")
    rng = random.Random(seed)
    k = min(len(pairs), round(len(train) * pairs_per_label))
    mixed = train + rng.sample(pairs, k)
    rng.shuffle(mixed)
    if label_repeat > 1:  # a label's copies side by side: the trainer draws its own order (fast_train.bucket), and
        # the data pack's xz stream then stores a copy for a few bytes instead of its whole row
        labelled = {id(r) for r in train}
        mixed = [copy for r in mixed for copy in [r] * (label_repeat if id(r) in labelled else 1)]
    out.mkdir(parents=True, exist_ok=True)
    write_rows(out / "train.jsonl", mixed)
    write_rows(out / "valid_teacher.jsonl", valid_teacher)
    for name in ("valid.jsonl", "test.jsonl"):
        if (data / name).exists():
            shutil.copyfile(data / name, out / name)
    stats = {"teacher_labels": len(train), "label_form": label_form, "label_repeat": label_repeat, "docstring_pairs": k,
             "valid_teacher": len(valid_teacher),
             "by_language": dict(sorted(Counter(r["language"] for r in train).items())), **counts}
    (out / "mix.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("labels", type=Path, help="the labels folder of lenscribe_training.teacher.teach")
    ap.add_argument("out", type=Path)
    ap.add_argument("--prompt", default=None, help="prompt id (default: the only one present)")
    ap.add_argument("--teacher-sha", default=None, help="teacher sha256 prefix (default: the only one present)")
    ap.add_argument("--labels", dest="n_labels", type=int, default=None, help="the first N train labels")
    ap.add_argument("--pairs-per-label", type=float, default=1.0)
    ap.add_argument("--label-form", choices=LABEL_FORMS, default="full",
                    help="lead-clause: train on each label's main clause (default: the whole label)")
    ap.add_argument("--label-repeat", type=int, default=1,
                    help="each train label this many times in the mix (with every docstring pair: a lent GPU's pack)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    folders = sorted(p for p in a.labels.glob("*/*") if p.is_dir()
                     and (a.prompt is None or p.parent.name == a.prompt)
                     and (a.teacher_sha is None or p.name.startswith(a.teacher_sha[:12])))
    if len(folders) != 1:
        print(f"mix: expected one labels folder under {a.labels} for that prompt and teacher, found "
              f"{[str(p) for p in folders]}", file=sys.stderr)
        return 2
    stats = build_mix(a.data, label_rows(folders[0]), a.out, a.n_labels, a.pairs_per_label, a.seed, a.label_form,
                      a.label_repeat)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
