"""`lenscribe eval DATA.jsonl`: summarize held-out code and score it against the reference summaries.

DATA.jsonl has one JSON object per line with at least "code" and "doc" (the reference), and optionally "language"
(default "unknown") and "id" / "name" (shown in samples) — the format written by
models/lenscribe_training/data/build_dataset.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lenscribe.grounding import check
from lenscribe.name_rule import name_summary

from .bleu import corpus_bleu
from .metrics import LanguageReport, exact_match, is_degenerate, report

BATCH = 64  # codes per summarize() call (the summarizer batches further inside)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score the model on a JSONL file of code / reference-summary pairs",
                       description="Summarize the code of each record and score the summaries against the "
                                   "references: smoothed BLEU-4 (CodeXGLUE), exact match, degenerate-output rate "
                                   "and milliseconds per summary, per language.")
    p.add_argument("data", type=Path, metavar="DATA.jsonl")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="score only the first N records (after --language)")
    p.add_argument("--language", default=None, metavar="L", help="only records of this language")
    p.add_argument("--json", action="store_true", help="print one JSON object for machines")
    p.add_argument("--save", type=Path, default=None, metavar="FILE",
                   help="also write that JSON object to FILE (the table is still printed)")
    p.add_argument("--samples", type=int, default=0, metavar="K", help="print K reference / prediction pairs")
    p.add_argument("--beams", type=int, default=1, metavar="N",
                   help="beam width (default 1: greedy, as the editor's default)")
    p.add_argument("--repetition-penalty", type=float, default=None, metavar="P",
                   help="penalty on tokens already generated (default: the editor's, "
                        "lenscribe.decoding.DEFAULT_REPETITION_PENALTY; 1 turns it off)")
    p.set_defaults(func=run)


def load_records(path: Path, language: str | None = None, limit: int | None = None) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not JSON: {e}") from e
            if not isinstance(rec, dict) or not isinstance(rec.get("code"), str) or not isinstance(rec.get("doc"), str):
                raise ValueError(f"{path}:{lineno}: a record needs string fields 'code' and 'doc'")
            rec.setdefault("language", "unknown")
            if language is not None and rec["language"] != language:
                continue
            records.append(rec)
            if limit is not None and len(records) >= limit:
                break
    return records


def evaluate(summarizer, records: list[dict], progress=None) -> tuple[list[str], dict[str, float]]:
    """Predictions for all records (in order) and the summarizer seconds spent per language."""
    predictions = [""] * len(records)
    seconds: dict[str, float] = {}
    by_lang: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_lang.setdefault(r["language"], []).append(i)
    done = 0
    for lang in sorted(by_lang):
        idx = by_lang[lang]
        for start in range(0, len(idx), BATCH):
            part = idx[start : start + BATCH]
            t0 = time.perf_counter()
            out = summarizer.summarize([records[i]["code"] for i in part], timeout=None)
            seconds[lang] = seconds.get(lang, 0.0) + time.perf_counter() - t0
            if len(out) != len(part):
                raise RuntimeError(f"summarizer returned {len(out)} summaries for {len(part)} inputs")
            for i, s in zip(part, out, strict=True):
                predictions[i] = s or ""
            done += len(part)
            if progress:
                progress(done, len(records))
    return predictions, seconds


def build_reports(records: list[dict], predictions: list[str], seconds: dict[str, float]) -> list[LanguageReport]:
    """Per language (and "all"): the model's metrics, and beside them the name-only baseline's BLEU on the same
    records (``name_baseline_bleu``, lenscribe.name_rule) and the model's margin over it; and what the editor shows
    with the grounding check on (``checked_bleu``: a summary naming what the code does not mention is replaced by the
    name rule's sentence, lenscribe.grounding) with the share withheld."""
    baseline = [name_summary(r.get("name"), r["code"]) for r in records]
    checked = [check(p, r["code"], r.get("name")) for r, p in zip(records, predictions, strict=True)]
    reports = []
    langs = sorted({r["language"] for r in records})
    groups = [(lang, [i for i, r in enumerate(records) if r["language"] == lang]) for lang in langs]
    if len(langs) > 1:
        groups.append(("all", list(range(len(records)))))
    for lang, idx in groups:
        refs = [records[i]["doc"] for i in idx]
        secs = sum(seconds.values()) if lang == "all" else seconds.get(lang, 0.0)
        rep = report(lang, refs, [predictions[i] for i in idx], secs)
        base = corpus_bleu(refs, [baseline[i] for i in idx])
        rep.extra.update(name_baseline_bleu=base, margin=rep.bleu - base,
                         checked_bleu=corpus_bleu(refs, [checked[i].text for i in idx]),
                         withheld=sum(1 for i in idx if checked[i].withheld) / max(1, len(idx)))
        reports.append(rep)
    return reports


def pick_samples(n: int, k: int) -> list[int]:
    """k indices spread evenly over range(n) (deterministic)."""
    if k <= 0 or n == 0:
        return []
    k = min(k, n)
    return sorted({(i * n) // k for i in range(k)})


def _progress(done: int, total: int) -> None:
    print(f"\r{done}/{total} summarized", end="" if done < total else "\n", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from lenscribe.decoding import DEFAULT_REPETITION_PENALTY, GenerationOptions
    from lenscribe.defaults import resolve_model_dir
    from lenscribe.summarizer import ModelError, Summarizer

    try:
        records = load_records(args.data, args.language, args.limit)
    except (OSError, ValueError) as e:
        print(f"lenscribe eval: {e}", file=sys.stderr)
        return 2
    if not records:
        print("lenscribe eval: no records to evaluate" + (f" for language {args.language!r}" if args.language else ""),
              file=sys.stderr)
        return 2
    model_dir = resolve_model_dir(args.model)
    beams = max(1, args.beams)
    penalty = DEFAULT_REPETITION_PENALTY if args.repetition_penalty is None else args.repetition_penalty
    if penalty <= 0:
        print("lenscribe eval: --repetition-penalty must be > 0", file=sys.stderr)
        return 2
    try:
        summarizer = Summarizer.load(model_dir, options=GenerationOptions(num_beams=beams, repetition_penalty=penalty))
    except ModelError as e:
        print(f"lenscribe eval: {e}", file=sys.stderr)
        return 2
    interactive = not args.json and sys.stderr.isatty()
    predictions, seconds = evaluate(summarizer, records, _progress if interactive else None)
    reports = build_reports(records, predictions, seconds)
    samples = []
    for i in pick_samples(len(records), args.samples):
        r = records[i]
        samples.append({"id": r.get("id"), "language": r["language"], "name": r.get("name"), "reference": r["doc"],
                        "prediction": predictions[i], "exact_match": exact_match(r["doc"], predictions[i]),
                        "degenerate": is_degenerate(predictions[i])})
    model_id = getattr(summarizer, "model_id", None)
    out = {"data": str(args.data), "model_dir": str(model_dir), "model_id": model_id, "beams": beams,
           "repetition_penalty": penalty, "languages": [rep.to_dict() for rep in reports], "samples": samples}
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"model: {model_dir}" + (f" ({model_id})" if model_id else "")
          + (f", beam search of {beams}" if beams > 1 else ", greedy")
          + (f", repetition penalty {penalty:g}" if penalty != 1.0 else ""))
    print(f"data:  {args.data} ({len(records)} records)")
    print()
    header = (f"{'language':<12} {'n':>7} {'BLEU-4':>7} {'name-only':>9} {'margin':>7} {'checked':>7} "
              f"{'withheld %':>10} {'EM %':>6} {'degen %':>8} {'ms/summary':>11}")
    print(header)
    print("-" * len(header))
    for rep in reports:
        print(f"{rep.language:<12} {rep.n:>7} {rep.bleu:>7.2f} {rep.extra['name_baseline_bleu']:>9.2f} "
              f"{rep.extra['margin']:>+7.2f} {rep.extra['checked_bleu']:>7.2f} {100 * rep.extra['withheld']:>10.1f} "
              f"{100 * rep.exact_match:>6.1f} {100 * rep.degenerate:>8.1f} "
              f"{rep.ms_per_summary:>11.1f}")
    print("name-only: the baseline rule that turns the function's name into a sentence "
          "(lenscribe.name_rule); margin = BLEU-4 - name-only; checked: BLEU-4 of what the editor shows with the "
          "grounding check on (lenscribe.grounding), withheld % the summaries it replaced")
    if samples:
        print()
        for s in samples:
            tag = f"[{s['language']}] {s['name'] or s['id'] or ''}".rstrip()
            print(tag)
            print(f"  reference:  {s['reference']}")
            print(f"  prediction: {s['prediction'].replace(chr(10), ' / ') or '(empty)'}")
    return 0
