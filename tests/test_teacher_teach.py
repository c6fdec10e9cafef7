"""lenscribe_training.teacher.teach: which functions get labelled in which order, append-only gzip shards that survive a
killed run, resuming without labelling a chunk twice, and stopping by itself."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from lenscribe.prompts import SPECIFIC, clean_reply
from lenscribe_training.runlog import Log
from lenscribe_training.teacher import teach
from lenscribe_training.teacher.runner import Answer


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _data(tmp: Path) -> Path:
    d = tmp / "data"
    d.mkdir()
    rows = {s: [] for s in ("train", "valid", "test")}
    for lang, n in (("python", 12), ("go", 4), ("javascript", 2)):
        for i in range(n):
            for split in rows:
                rows[split].append({"id": f"{lang}-{split}-{i}", "language": lang, "package": "p", "path": "x",
                                    "name": f"f{i}", "code": f"def f{i}_{split}(): return {i}", "doc": "Doc."})
    for split, rs in rows.items():
        _write(d / f"{split}.jsonl", rs)
    _write(d / "undocumented.jsonl", [{"id": f"python-u-{i}", "language": "python", "package": "p", "path": "x",
                                       "name": f"u{i}", "split": "test" if i == 0 else "train",
                                       "code": f"def u{i}(): pass"} for i in range(6)])
    return d


class EchoTeacher:
    """A stand-in for the llama.cpp teacher: answers from the code, counting calls."""

    sha256 = "ab" * 32

    def __init__(self):
        self.asked: list[tuple[str, str]] = []

    def ask(self, prompt, code, language, kind="function"):
        self.asked.append((language, code))
        raw = f"This {kind} handles {code.split('(')[0].split()[-1]}. Returns a value."
        return Answer(raw, clean_reply(raw, prompt), 100, 10, 0.01)


def test_work_items_take_languages_in_turn_and_never_the_test_split(tmp_path):
    items = teach.work_items(_data(tmp_path), undocumented_share=0.5, valid_every=1)
    assert not [it for it in items if it["split"] == "test"]
    assert {it["split"] for it in items} == {"train", "valid"}
    # the first rounds hold one of each language, while each lasts
    assert [it["language"] for it in items[:3]] == ["python", "go", "javascript"]
    assert [it["language"] for it in items[6:9]] == ["python", "go", "javascript"]
    py = [it for it in items if it["language"] == "python"]
    assert sum(not it["documented"] for it in py) == 5  # the 6 undocumented less the test one
    train = [it for it in py if it["split"] == "train"]
    assert [it["documented"] for it in train[:4]].count(False) == 2  # interleaved at the share asked for
    again = teach.work_items(_data(tmp_path / "again") if (tmp_path / "again").mkdir() is None else None, 0.5, 1)
    assert [dict(it, at=None) for it in again] == [dict(it, at=None) for it in items]  # deterministic
    assert [it["code"] for it in again] == [it["code"] for it in items]


def test_a_work_item_reads_its_code_from_the_data_set_when_asked(tmp_path):
    d = _data(tmp_path)
    odd = "def odd():\r\n    return '\u2028 \u0085 \x0c \u00e9'\n"  # line breaks that are not JSON's
    rows = [json.loads(x) for x in (d / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    rows[0] = dict(rows[0], code=odd)
    with open(d / "train.jsonl", "w", encoding="utf-8", newline="\n") as f:  # raw, not escaped: as ensure_ascii=False
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    items = teach.work_items(d, valid_every=1)
    assert items and all("code" not in it for it in items)  # the pool holds where the code is, not the code
    by_id = {it["id"]: it for it in items}
    assert by_id[rows[0]["id"]]["code"] == odd
    assert [by_id[r["id"]]["code"] for r in rows[1:] if r["id"] in by_id] == [r["code"] for r in rows[1:]
                                                                           if r["id"] in by_id]
    with pytest.raises(KeyError):
        by_id[rows[0]["id"]]["doc"]


def test_valid_every_holds_out_one_in_n(tmp_path):
    d = _data(tmp_path)
    assert len([it for it in teach.work_items(d, valid_every=1) if it["split"] == "valid"]) == 18
    assert len([it for it in teach.work_items(d, valid_every=10**9) if it["split"] == "valid"]) <= 1


def test_labels_resume_without_repeats_and_survive_a_torn_shard(tmp_path):
    d, out = _data(tmp_path), tmp_path / "labels"
    items = teach.work_items(d, valid_every=1)
    folder = teach.shard_dir(out, SPECIFIC.id, EchoTeacher.sha256)
    t1 = EchoTeacher()
    c = teach.label(items, t1, SPECIFIC, teach.ShardWriter(folder, flush=3), set(), Log(None), limit=7)
    assert c["labelled"] == 7 and c["stopped: limit"] == 1
    shard = next(folder.glob("shard-*.jsonl.gz"))
    rows = list(teach.read_rows(shard))
    assert len(rows) == 7 and rows[0]["label"].startswith("Handles ") and rows[0]["prompt"] == SPECIFIC.id
    assert rows[0]["hash"] == teach.chunk_hash(rows[0]["language"], items[0]["code"])
    assert rows[0]["label"].endswith("Returns a value.") and rows[0]["changes"] == ["lead", "second kept"]
    # a killed run leaves half a gzip member behind: the rows before it still count, the shard still reads
    with open(shard, "ab") as f:
        f.write(gzip.compress(b'{"hash": "torn"}\n' * 50)[:40])
    assert len(list(teach.read_rows(shard))) == 7
    time.sleep(1.1)  # a new shard name (its time stamp has seconds)
    done = teach.load_done(folder)
    t2 = EchoTeacher()
    c2 = teach.label(items, t2, SPECIFIC, teach.ShardWriter(folder, flush=3), done, Log(None))
    assert c2["labelled"] == len(items) - 7
    assert not set(t1.asked) & set(t2.asked)  # nothing labelled twice
    all_rows = [r for p in folder.glob("shard-*.jsonl.gz") for r in teach.read_rows(p)]
    assert len({r["hash"] for r in all_rows}) == len(all_rows) == len(items)


def test_deadline_stops_the_run(tmp_path):
    d = _data(tmp_path)
    items = teach.work_items(d)
    c = teach.label(items, EchoTeacher(), SPECIFIC, teach.ShardWriter(tmp_path / "o", 5), set(), Log(None),
                    deadline=time.time() - 1)
    assert c["labelled"] == 0 and c["stopped: deadline"] == 1
    now = datetime(2026, 1, 1, 12, 30)
    assert datetime.fromtimestamp(teach.deadline_from("13:05", None, now)) == datetime(2026, 1, 1, 13, 5)
    assert datetime.fromtimestamp(teach.deadline_from("12:00", None, now)) == datetime(2026, 1, 2, 12, 0)
    assert teach.deadline_from(None, None) is None


def test_main_refuses_an_empty_data_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    gguf = tmp_path / "t.gguf"
    gguf.write_bytes(b"GGUF")
    rc = teach.main([str(tmp_path / "empty"), str(tmp_path / "out"), "--teacher", str(gguf), "--nice", "0"])
    assert rc == 2 and "nothing to label" in capsys.readouterr().err


def test_mix_joins_labels_to_code_keeps_valid_held_out_and_nests_curve_points(tmp_path):
    from lenscribe_training.teacher import mix

    d = _data(tmp_path)
    items = teach.work_items(d, valid_every=1)
    folder = teach.shard_dir(tmp_path / "labels", SPECIFIC.id, EchoTeacher.sha256)
    teach.label(items, EchoTeacher(), SPECIFIC, teach.ShardWriter(folder, 4), set(), Log(None))
    labels = mix.label_rows(folder)
    assert len(labels) == len(items)
    small = mix.build_mix(d, labels, tmp_path / "m5", n_labels=5, pairs_per_label=1.0)
    big = mix.build_mix(d, labels, tmp_path / "m10", n_labels=10, pairs_per_label=0.5)
    assert small["teacher_labels"] == 5 and small["docstring_pairs"] == 5
    assert big["teacher_labels"] == 10 and big["docstring_pairs"] == 5
    rows = [json.loads(x) for x in (tmp_path / "m10" / "train.jsonl").read_text().splitlines()]
    teacher_rows = [r for r in rows if r["doc"].startswith("Handles ")]
    small_rows = [json.loads(x) for x in (tmp_path / "m5" / "train.jsonl").read_text().splitlines()]
    assert {r["id"] for r in small_rows if r["doc"].startswith("Handles ")} <= {r["id"] for r in teacher_rows}
    assert all("valid" not in r["id"] for r in rows)  # held out
    vt = [json.loads(x) for x in (tmp_path / "m10" / "valid_teacher.jsonl").read_text().splitlines()]
    assert vt and all("valid" in r["id"] and r["doc"].startswith("Handles ") for r in vt)
    assert (tmp_path / "m10" / "test.jsonl").read_text() == (d / "test.jsonl").read_text()
    # a label whose code changed in the data set is left out, not trained on with the wrong code
    stale = [dict(labels[0], hash="0" * 64)] + labels[1:]
    assert mix.build_mix(d, stale, tmp_path / "m", n_labels=3)["left out: not in the data set"] == 1
    # the split is the data set's, not the one the label was made under: a function now in test is never trained on
    moved = dict(labels[0], id="python-test-0", hash=teach.chunk_hash("python", "def f0_test(): return 0"))
    assert mix.build_mix(d, [moved], tmp_path / "mt")["left out: not in the data set"] == 1


def test_a_stop_request_ends_the_run_after_the_row_in_hand(tmp_path):
    items = teach.work_items(_data(tmp_path))
    t, asked = EchoTeacher(), []
    c = teach.label(items, t, SPECIFIC, teach.ShardWriter(tmp_path / "o", 100), set(), Log(None),
                    stop=lambda: len(t.asked) >= 3 or asked.append(1) is not None)
    assert c["labelled"] == 3 and c["stopped: signal"] == 1
    assert len(list(teach.read_rows(next((tmp_path / "o").glob("shard-*"))))) == 3  # flushed at the end


def test_every_nth_label_of_a_language_is_held_out(tmp_path):
    d = _data(tmp_path)
    py = [it for it in teach.work_items(d, valid_every=4) if it["language"] == "python"]
    # python: 12 valid, 12 train + 5 undocumented train; every 4th a valid one while train lasts
    assert [i for i, it in enumerate(py) if it["split"] == "valid"] == [3, 7, 11, 15, 19]
    assert len(py) == 17 + 5  # the valid code left when train runs out is not labelled


def test_lead_clause_keeps_the_main_clause_and_whole_lists():
    from lenscribe_training.teacher.mix import lead_clause

    assert lead_clause("Reads a key from a reader, handling both quoted and unquoted keys, and returns it.") == (
        "Reads a key from a reader.")
    assert lead_clause("Merges observables into a single observable, allowing concurrent execution.") == (
        "Merges observables into a single observable.")
    assert lead_clause("Loads the file into memory, which is then parsed.") == "Loads the file into memory."
    # a list's ", and" is not a clause; a clause after it is
    listed = "Stores the `a`, `b`, and `c` fields of a record."
    assert lead_clause(listed) == listed
    assert lead_clause("Writes the id, flags, and TTL of a message to a stream, using a buffer.") == (
        "Writes the id, flags, and TTL of a message to a stream.")
    # too little would be left, or nothing trails: the label as it is
    assert lead_clause("Returns it, if any.") == "Returns it, if any."
    assert lead_clause("Computes the hash and returns it.") == "Computes the hash and returns it."


def test_a_lead_clause_mix_cuts_train_labels_and_keeps_held_out_ones_whole(tmp_path):
    from lenscribe_training.teacher import mix

    d = _data(tmp_path)
    items = teach.work_items(d, valid_every=1)
    labels = [dict(it, hash=teach.chunk_hash(it["language"], it["code"]),
                   label="Builds a value from its input, handling every case.") for it in items]
    stats = mix.build_mix(d, labels, tmp_path / "lead", n_labels=6, pairs_per_label=0, label_form="lead-clause")
    assert stats["label_form"] == "lead-clause" and stats["labels cut to their lead clause"] == 6
    train = [json.loads(x) for x in (tmp_path / "lead" / "train.jsonl").read_text().splitlines()]
    assert len(train) == 6 and {r["doc"] for r in train} == {"Builds a value from its input."}
    held = [json.loads(x) for x in (tmp_path / "lead" / "valid_teacher.jsonl").read_text().splitlines()]
    assert held and {r["doc"] for r in held} == {"Builds a value from its input, handling every case."}
    full = mix.build_mix(d, labels, tmp_path / "full", n_labels=6, pairs_per_label=0)
    assert full["label_form"] == "full" and "labels cut to their lead clause" not in full
    with pytest.raises(ValueError):
        mix.build_mix(d, labels, tmp_path / "bad", n_labels=6, label_form="short")


def test_a_repeated_mix_holds_each_label_k_times_beside_every_docstring_pair(tmp_path):
    from lenscribe_training.teacher import mix

    d = _data(tmp_path)
    items = teach.work_items(d, valid_every=1)
    labels = [dict(it, hash=teach.chunk_hash(it["language"], it["code"]), label=f"Labels {it['id']}.")
              for it in items]
    once = mix.build_mix(d, labels, tmp_path / "once", n_labels=4, pairs_per_label=1000)
    stats = mix.build_mix(d, labels, tmp_path / "x3", n_labels=4, pairs_per_label=1000, label_repeat=3)
    assert stats["teacher_labels"] == 4 and stats["label_repeat"] == 3
    assert stats["docstring_pairs"] == once["docstring_pairs"] > 0  # every pair, however many repeats
    rows = [json.loads(x) for x in (tmp_path / "x3" / "train.jsonl").read_text().splitlines()]
    counts = Counter(r["id"] for r in rows if r["doc"].startswith("Labels "))
    assert len(counts) == 4 and set(counts.values()) == {3}
    assert len(rows) == 3 * 4 + stats["docstring_pairs"]
    at = [i for i, r in enumerate(rows) if r["doc"].startswith("Labels ")]
    assert all(rows[i]["id"] == rows[i + 1]["id"] == rows[i + 2]["id"] for i in at[::3])  # copies side by side
    assert [r["id"] for r in rows if r["doc"].startswith("Labels ")][::3] == \
        [r["id"] for r in map(json.loads, (tmp_path / "once" / "train.jsonl").read_text().splitlines())
         if r["doc"].startswith("Labels ")]  # in the order a mix without repeats has them
    with pytest.raises(ValueError):
        mix.build_mix(d, labels, tmp_path / "none", n_labels=4, label_repeat=0)
