"""lenscribe_training.teacher.curve: a learning-curve point from labels to a built student, scored on held-out teacher
labels and docstrings, with every point re-scored when the held-out set grows."""

from __future__ import annotations

import json

import pytest

from lenscribe.prompts import SPECIFIC
from lenscribe_training.runlog import Log
from lenscribe_training.teacher import curve, teach
from test_teacher_teach import EchoTeacher, _data


def test_a_curve_point_trains_builds_and_scores_a_student(tmp_path, tiny_model_dir):
    pytest.importorskip("optimum")
    d = _data(tmp_path)
    items = teach.work_items(d, valid_every=3)
    folder = teach.shard_dir(tmp_path / "labels", SPECIFIC.id, EchoTeacher.sha256)
    teach.label(items[:12], EchoTeacher(), SPECIFIC, teach.ShardWriter(folder, 4), set(), Log(None))
    out = tmp_path / "curve"
    args = [str(d), str(folder), str(out), "--points", "4", "--epochs", "1", "--threads", "1",
            "--valid-per-language", "3", "--init", str(tiny_model_dir), "--max-tokens", "512", "--fit-labels", "4"]
    assert curve.main(args) == 0
    c = json.loads((out / "curve.json").read_text())
    start, point = c["points"]
    # fit: the point's own first labels, the code and the teacher's label it trained on, scored for both models
    fit = [json.loads(x) for x in (out / "fit_teacher.jsonl").read_text().splitlines()]
    rows = (out / point["dir"] / "train.jsonl").read_text().splitlines()
    trained = {(r["id"], r["doc"]) for r in map(json.loads, rows)}
    assert len(fit) == 4 and {(r["id"], r["doc"]) for r in fit} <= trained
    assert point["fit"]["n"] == start["fit"]["n"] == 4 and point["fit"]["model_id"] != start["fit"]["model_id"]
    # reference: the held-out labels beside the authors' docstrings of the same functions (every valid row has one)
    labelled = [json.loads(x) for x in (out / "held_out_documented.jsonl").read_text().splitlines()]
    authors = [json.loads(x) for x in (out / "held_out_docstrings.jsonl").read_text().splitlines()]
    assert c["reference"]["n"] == len(labelled) == len(authors) == c["held_out_labels"]
    assert [r["id"] for r in labelled] == [r["id"] for r in authors]
    assert {r["doc"] for r in authors} == {"Doc."} and all(r["doc"].startswith("Handles f") for r in labelled)
    assert c["reference"]["docstrings_vs_teacher"] < 100 and c["reference"]["teacher_vs_docstrings"] < 100
    by_language = c["reference"]["languages"]
    assert sum(x["n"] for x in by_language.values()) == c["reference"]["n"]
    assert set(by_language) == {r["language"] for r in labelled}
    assert start["labels"] == 0 and point["labels"] == 4 and point["docstring_pairs"] == 4
    assert point["dir"] == str(out / "labels-4-pairs-1-epochs-1")  # one epoch: not the default three
    assert point["steps"] >= 1 and (out / "labels-4-pairs-1-epochs-1" / "built" / "manifest.json").exists()
    assert point["agreement"]["model_id"] != start["agreement"]["model_id"]  # the student, not its start
    assert c["held_out_labels"] == point["agreement"]["n"] > 0
    # 3 a language (javascript has 2), the same for every point
    assert point["docstrings"]["n"] == start["docstrings"]["n"] == 3 + 3 + 2
    # more labels, more held out: the next run trains nothing again but scores every point on the new set
    teach.label(items[12:], EchoTeacher(), SPECIFIC, teach.ShardWriter(folder, 4), teach.load_done(folder),
                Log(None))
    assert curve.main(args) == 0
    c2 = json.loads((out / "curve.json").read_text())
    assert len(c2["points"]) == 2 and c2["held_out_labels"] > c["held_out_labels"]
    assert all(p["agreement"]["n"] == c2["held_out_labels"] for p in c2["points"])


def test_a_point_past_the_labels_there_are_is_refused(tmp_path, tiny_model_dir):
    d = _data(tmp_path)
    folder = teach.shard_dir(tmp_path / "labels", SPECIFIC.id, EchoTeacher.sha256)
    teach.label(teach.work_items(d)[:3], EchoTeacher(), SPECIFIC, teach.ShardWriter(folder, 4), set(), Log(None))
    with pytest.raises(SystemExit, match="only 3 train labels"):
        curve.main([str(d), str(folder), str(tmp_path / "c"), "--points", "50", "--init", str(tiny_model_dir)])
    assert curve.main([str(d), str(tmp_path / "none"), str(tmp_path / "c2")]) == 2


def test_a_variant_of_a_point_trains_in_a_folder_of_its_own():
    base = curve.point_dir(1500, 1.0, curve.DEFAULT_EPOCHS, curve.DEFAULT_LR)
    assert base == "labels-1500-pairs-1"  # the folders of points made before variants had a name stay valid
    variants = {curve.point_dir(1500, 1.0, 6.0, curve.DEFAULT_LR), curve.point_dir(1500, 1.0, 3.0, 3e-4),
                curve.point_dir(1500, 1.0, 6.0, 3e-4), curve.point_dir(1500, 3.0, 3.0, 1e-3)}
    assert len(variants) == 4 and base not in variants
    assert curve.point_dir(1500, 1.0, 3.0, 3e-4) == "labels-1500-pairs-1-lr-0.0003"
    longer = curve.point_dir(1500, 1.0, curve.DEFAULT_EPOCHS, curve.DEFAULT_LR, max_src=384)
    assert longer == "labels-1500-pairs-1-src-384" and longer not in variants
    assert curve.point_dir(1500, 1.0, curve.DEFAULT_EPOCHS, curve.DEFAULT_LR, max_src=curve.DEFAULT_MAX_SRC) == base
