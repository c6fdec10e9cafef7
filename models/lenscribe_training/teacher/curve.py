"""The student's learning curve: what more teacher labels buy.

    PYTHONPATH=models:server python -m lenscribe_training.teacher.curve .cache/data-all models/labels .cache/curve \\
        --points 400,1000,2000 [--pairs-per-label 1] [--epochs 3] [--lr 1e-3] [--init models/lenscribe-small]

For each point N (the first N train labels, in labelling order, so the points are nested) it builds the mix
(``lenscribe_training.teacher.mix``), its data pack, warm-starts the student from ``--init`` with
``lenscribe_training.trainers.fast_train --epochs`` (the schedule counts steps, so a busy CPU changes the time, not the
model), exports and builds it as the editor runs it (int8 ONNX), and scores the built model, as ``lenscribe eval`` does,
on:

- ``agreement``: the held-out teacher labels (``valid_teacher.jsonl``, never trained on), the student's BLEU against
  its teacher;
- ``docstrings``: a fixed sample of the valid split's docstring pairs (``--valid-per-language``), so a point that
  learns the teacher's content at the cost of what the docstrings taught shows it;
- ``fit``: the first ``--fit-labels`` train labels (``fit_teacher.jsonl``), which every point at least that large
  trained on: how well the student learned what it was shown. Beside ``agreement`` it says what the next point
  needs: a low fit is a student that has not learned its labels yet (more training or a larger student), a high fit
  with a low agreement one that needs more labels.

``reference`` (no student in it) says what the two BLEU scales measure: on the held-out functions that have a
docstring, the teacher's label scored against the docstring (as ``docstrings`` scores a model) and the docstring
against the label (as ``agreement`` does), the name rule beside each.

The starting model is scored the same way (point 0). Every point's figures go to ``OUT/curve.json``; a point already
in it is not trained again, but every point is scored again on today's held-out labels (their number grows with the
labelling), so the points of one curve.json are always comparable. ``--test`` also scores each point on the
test split (the README's per-language table: slow, ~9,000 functions).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from lenscribe.evaluation import corpus_bleu
from lenscribe.name_rule import name_summary
from lenscribe_training.data.build_dataset import read_jsonl
from lenscribe_training.runlog import Log
from lenscribe_training.teacher.mix import LABEL_FORMS, build_mix, join, label_rows, write_rows

DEFAULT_EPOCHS = 3.0
DEFAULT_LR = 1e-3
DEFAULT_MAX_SRC = 128  # the shipped model's source tokens (its manifest's max_input_tokens)


def _eval(data: Path, model: Path, save: Path) -> dict:
    """``lenscribe eval DATA --model MODEL --json``: BLEU, n and the name rule's BLEU, over all records and per
    language."""
    if not save.exists():
        subprocess.run([sys.executable, "-m", "lenscribe", "eval", str(data), "--model", str(model), "--save",
                        str(save), "--json"], check=True, stdout=subprocess.DEVNULL)
    res = json.loads(save.read_text(encoding="utf-8"))
    langs = {x["language"]: {"n": x["n"], "bleu": round(x["bleu"], 2), "name_rule": round(x["name_baseline_bleu"], 2)}
             for x in res["languages"]}
    overall = langs.pop("all", None)  # lenscribe eval's own line over every record, when there are two languages
    if overall is None and langs:
        overall = next(iter(langs.values()))
    return {"model_id": res.get("model_id"), "all": overall and overall["bleu"], "n": overall and overall["n"],
            "name_rule": overall and overall["name_rule"], "languages": langs}


def valid_sample(data: Path, out: Path, per_language: int, seed: int = 0) -> Path:
    """A fixed sample of the data set's valid docstring pairs, the same for every point."""
    path = out / "valid_docstrings.jsonl"
    if not path.exists():
        rows = read_jsonl(data / "valid.jsonl")
        by_lang: dict[str, list[dict]] = {}
        for r in sorted(rows, key=lambda r: r["id"]):
            by_lang.setdefault(r["language"], []).append(r)
        rng = random.Random(seed)
        keep = [r for lang in sorted(by_lang) for r in rng.sample(by_lang[lang], min(per_language, len(by_lang[lang])))]
        out.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep), encoding="utf-8")
    return path


def point_dir(n: int, pairs_per_label: float, epochs: float, lr: float, label_form: str = "full",
              max_src: int = DEFAULT_MAX_SRC, grow: tuple[int, int] = (0, 0)) -> str:
    """A point's folder: the labels and the pairs a label, and the epochs, learning rate, label form, source length
    and the blocks added to the student's encoder and decoder where they are not the defaults (a variant of a point
    trains in a folder of its own)."""
    name = f"labels-{n}-pairs-{pairs_per_label:g}"
    if label_form != "full":
        name += f"-{label_form}"
    if max_src != DEFAULT_MAX_SRC:
        name += f"-src-{max_src}"
    if any(grow):
        name += f"-grow-e{grow[0]}-d{grow[1]}"
    if epochs != DEFAULT_EPOCHS:
        name += f"-epochs-{epochs:g}"
    if lr != DEFAULT_LR:
        name += f"-lr-{lr:g}"
    return name


def run_point(a: argparse.Namespace, labels: list[dict], n: int, log: Log) -> dict:
    from lenscribe_training.data.datapack import build_pack
    from lenscribe_training.export.export_hf import export, training_record
    from lenscribe_training.trainers.fast_train import Config, train

    d = a.out / point_dir(n, a.pairs_per_label, a.epochs, a.lr, a.label_form, a.max_src, a.grow)
    t0 = time.time()
    mix = build_mix(a.data, labels, d, n, a.pairs_per_label, a.seed, a.label_form)
    if mix["teacher_labels"] < n:
        raise SystemExit(f"curve: only {mix['teacher_labels']} train labels exist, point {n} asked for more")
    build_pack(d, d / "pack.npz", max_src=a.max_src, valid_per_language=a.valid_per_language, seed=a.seed)
    cfg = Config(init_onnx=str(a.init), epochs=a.epochs, lr=a.lr, warmup=a.warmup, budget_s=10 ** 6,
                 eval_per_language=0, workers=0, threads=a.threads, max_tokens=a.max_tokens, seed=a.seed, log_every=25,
                 add_encoder_layers=a.grow[0], add_decoder_layers=a.grow[1])
    if (d / "run" / "run.json").exists() and (d / "run" / "model.pt").exists():
        log(f"point {n}: trained before ({d / 'run'}), building")  # a run whose build failed resumes here
        run = json.loads((d / "run" / "run.json").read_text())
    else:
        log(f"point {n}: {mix['teacher_labels']} labels + {mix['docstring_pairs']} docstring pairs, training")
        run = train(d / "pack.npz", d / "run", cfg)
    export(d / "run", d / "hf")
    record = training_record(d / "run")
    (d / "record.json").write_text(json.dumps(record, indent=1) + "\n")
    # the curve measures what the editor would run, the int8 build, whatever its verification says; the report
    # (int8 against fp32 token agreement) goes into the point. Per-channel weight scales: a fine-tuned student's
    # weights are off the int8 grid its start was read back from, and per-tensor encoder scales cost it (400 labels:
    # int8-vs-fp32 logit drift 2.12, top-1 89%; per channel 0.55, 94%)
    subprocess.run([sys.executable, "-m", "lenscribe", "model", "build", str(d / "hf"), "--out", str(d / "built"),
                    "--name", "lenscribe-small", "--max-input-tokens", str(a.max_src), "--per-channel",
                    "--no-verify-gate"],
                   check=True, stdout=subprocess.DEVNULL)
    verify = json.loads((d / "built" / "manifest.json").read_text()).get("verify", {})
    fine = run["phases"][-1]
    return {"labels": n, "docstring_pairs": mix["docstring_pairs"], "labels_by_language": mix["by_language"],
            "steps": fine["steps"], "epochs": a.epochs, "lr": a.lr, "label_form": a.label_form, "max_src": a.max_src,
            "shape": run["model"]["shape"], "parameters": run["model"]["parameters"],
            "train_s": fine["seconds"], "tgt_tok_per_s": fine["tgt_tok_per_s"], "wall_s": round(time.time() - t0),
            "model": str(d / "built"), "dir": str(d),
            "int8_verify": {k: verify.get(k) for k in ("passed", "failures", "int8")}}


def reference(data: Path, held_out: list[dict], out: Path) -> dict:
    """BLEU between the teacher's labels and the authors' docstrings, both ways, on the held-out functions that have a
    docstring, with the name rule's sentence scored against each: where the teacher, read blind far more often right
    than any student, scores below the name rule against the docstrings, and the authors' own docstrings score below a
    student against the labels, both figures measure wording more than content. The rows go to
    ``held_out_documented.jsonl`` (the label as ``doc``) and ``held_out_docstrings.jsonl`` (the docstring), so that any
    model can be scored on the same functions (``lenscribe eval``)."""
    docs = {r["id"]: r["doc"] for r in read_jsonl(data / "valid.jsonl") if isinstance(r.get("doc"), str)
            and r["doc"].strip()}
    rows = [r for r in held_out if r["id"] in docs]
    authors = [dict(r, doc=docs[r["id"]]) for r in rows]
    write_rows(out / "held_out_documented.jsonl", rows)
    write_rows(out / "held_out_docstrings.jsonl", authors)
    if not rows:
        return {"n": 0}
    names = [name_summary(r.get("name"), r["code"]) for r in rows]

    def figures(idx: list[int]) -> dict:
        labels, docstrings = [rows[i]["doc"] for i in idx], [authors[i]["doc"] for i in idx]
        nm = [names[i] for i in idx]
        return {"n": len(idx),
                "teacher_vs_docstrings": round(corpus_bleu(docstrings, labels), 2),
                "name_rule_vs_docstrings": round(corpus_bleu(docstrings, nm), 2),
                "docstrings_vs_teacher": round(corpus_bleu(labels, docstrings), 2),
                "name_rule_vs_teacher": round(corpus_bleu(labels, nm), 2)}

    langs = sorted({r["language"] for r in rows})
    return figures(list(range(len(rows)))) | {
        "languages": {lang: figures([i for i, r in enumerate(rows) if r["language"] == lang]) for lang in langs}}


def score(a: argparse.Namespace, model: Path, where: Path) -> dict:
    """The figures of one model; the agreement is named by the held-out set's size, so every point is scored again,
    on the same labels, whenever more held-out labels exist."""
    k = a.held_out
    out = {"agreement": _eval(a.out / "valid_teacher.jsonl", model, where / f"agreement-{k}.json"),
           "docstrings": _eval(a.valid_docstrings, model, where / "docstrings.json"),
           "fit": _eval(a.out / "fit_teacher.jsonl", model, where / f"fit-{a.fit_n}.json")}
    if a.test:
        out["test"] = _eval(a.data / "test.jsonl", model, where / "test.json")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("labels", type=Path, help="one labels folder: <labels>/<prompt>/<teacher sha[:12]>")
    ap.add_argument("out", type=Path)
    ap.add_argument("--points", default="1000,2000,5000,10000")
    ap.add_argument("--pairs-per-label", type=float, default=1.0)
    ap.add_argument("--epochs", type=float, default=DEFAULT_EPOCHS)
    ap.add_argument("--lr", type=float, default=DEFAULT_LR)
    ap.add_argument("--label-form", choices=LABEL_FORMS, default="full",
                    help="lead-clause: train on each label's main clause (lenscribe_training.teacher.mix)")
    ap.add_argument("--max-src", type=int, default=DEFAULT_MAX_SRC,
                    help="source tokens the student sees, in training and as built (the editor's max_input_tokens)")
    ap.add_argument("--add-encoder-layers", type=int, default=0,
                    help="grow the student: blocks added on top of its encoder, the identity at first")
    ap.add_argument("--add-decoder-layers", type=int, default=0, help="the same for its decoder")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--max-tokens", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--valid-per-language", type=int, default=150)
    ap.add_argument("--fit-labels", type=int, default=256,
                    help="score every point on the first N train labels too (fit: what it learned of its own labels)")
    ap.add_argument("--init", type=Path, default=Path("models/lenscribe-small"))
    ap.add_argument("--test", action="store_true", help="also score every point on the test split (slow)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    a.grow = (a.add_encoder_layers, a.add_decoder_layers)
    folder = a.labels
    if not list(folder.glob("shard-*.jsonl.gz")):
        print(f"curve: no label shards in {folder}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    log = Log(a.out / "curve.log")
    labels = label_rows(folder)
    a.valid_docstrings = valid_sample(a.data, a.out, a.valid_per_language, a.seed)
    # the held-out teacher labels: every kept valid label there is, the same file for every point; and the first
    # train labels, which every point trained on (the points are nested)
    fit, held_out = join(a.data, labels, a.fit_labels)[:2]
    write_rows(a.out / "valid_teacher.jsonl", held_out)
    write_rows(a.out / "fit_teacher.jsonl", fit)
    a.fit_n = len(fit)  # fewer than asked while fewer train labels exist: named by its size, as the held-out set
    ref = reference(a.data, held_out, a.out)
    a.held_out = len(held_out)
    path = a.out / "curve.json"
    curve = json.loads(path.read_text()) if path.exists() else {"points": []}
    curve["held_out_labels"] = a.held_out
    curve["reference"] = ref
    if ref["n"]:
        log(f"reference, {ref['n']} held-out functions with a docstring: against the docstrings the teacher scores "
            f"{ref['teacher_vs_docstrings']}, the name rule {ref['name_rule_vs_docstrings']}; against the teacher the "
            f"docstrings score {ref['docstrings_vs_teacher']}, the name rule {ref['name_rule_vs_teacher']}")
    if not any(p["labels"] == 0 for p in curve["points"]):
        curve["points"].append({"labels": 0, "model": str(a.init), "dir": str(a.out)})
    for n in sorted(int(x) for x in a.points.split(",") if x.strip()):
        # a point is known by its folder
        want = point_dir(n, a.pairs_per_label, a.epochs, a.lr, a.label_form, a.max_src, a.grow)
        if n and not any(Path(p["dir"]).name == want for p in curve["points"]):
            curve["points"].append(run_point(a, labels, n, log) | {"docstring_pairs_per_label": a.pairs_per_label})
            path.write_text(json.dumps(curve, indent=1) + "\n")
    for p in curve["points"]:
        p.update(score(a, Path(p["model"]), Path(p["dir"])))
        which = Path(p["dir"]).name if p["labels"] else p["model"]
        log(f"point {p['labels']} ({which}): agreement {p['agreement']['all']} "
            f"on {a.held_out} held-out labels, fit {p['fit']['all']} on the first {a.fit_n} train labels, "
            f"docstrings {p['docstrings']['all']}")
    path.write_text(json.dumps(curve, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
