"""A blind rating of generated summaries: what a reader who does not know which system wrote a summary thinks of it.

    # 1. sample functions, summarize them with each system, write the blinded sheet and the key
    python benchmarks/blind_rating.py prepare OUT --source pygls=.venv/lib/python3.11/site-packages/pygls \
        --source examples=examples --sample pygls=40 --system model=models/lenscribe-small --seed 0 \
        [--teacher q15=.cache/teacher/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf@specific-v2 --threads 2]
    # 2. a reader fills OUT/ratings.json from OUT/sheet.md alone: {"<item>": {"A": 0|1|2, "B": ...}, ...}
    #    2: correct and informative, 1: vague (true but says little more than the name), 0: wrong or misleading
    # 3. unblind
    python benchmarks/blind_rating.py score OUT     # also "<model>+check": what the editor shows with groundingCheck

Each item is one function or method (classes are left out: their summary is a list of members; test files are left out
too); the reader sees its code *without* its docstring (``--show-docstrings`` shows it), as every system summarizes it
(a documented chunk shows its docstring, so only undocumented code ever reaches a model), and each system's summary
under a letter, the letters shuffled per item. The name-only rule (``lenscribe.name_rule.name_summary``) is always one
of the systems; ``--system`` adds an ONNX model, ``--teacher`` an LLM through ``lenscribe_training.teacher`` with a
``lenscribe.prompts`` prompt (the teacher extra). ``key.json`` records each system's seconds per item.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from collections import Counter
from pathlib import Path

from lenscribe.chunking import chunk_text, language_for_path, strip_doc
from lenscribe.name_rule import name_summary

MAX_SHOWN_LINES = 60
NAME_RULE = "name-rule"


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep:
            raise SystemExit(f"{what} must be NAME=VALUE: {v!r}")
        out[key] = val
    return out


def _is_test(path: Path) -> bool:
    from lenscribe_training.data.dataset_filters import is_test_path

    return is_test_path(path.as_posix())


def collect(root: Path, min_lines: int) -> list[dict]:
    """Every function/method of the supported non-test files under ``root`` (sorted: the same list on every run)."""
    items = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and language_for_path(p) and not _is_test(p)
                   ) if root.is_dir() else [root]
    for path in files:
        language = language_for_path(path)
        text = path.read_text(encoding="utf-8", errors="replace")
        for c in chunk_text(text, language, min_lines=min_lines, docs=True):  # strip_doc needs the docstring
            if c.kind == "class":
                continue
            items.append({"path": str(path.relative_to(root.parent) if root.is_dir() else path), "line": c.start[0] + 1,
                          "language": c.language, "kind": c.kind, "qualname": c.qualname, "code": c.text,
                          "model_input": strip_doc(c)})
    return items


def prepare(args: argparse.Namespace) -> int:
    from lenscribe.summarizer import Summarizer

    sources, samples, systems = _pairs(args.source, "--source"), _pairs(args.sample, "--sample"), _pairs(
        args.system, "--system")
    rng = random.Random(args.seed)
    items = []
    for name, root in sources.items():
        found = collect(Path(root), args.min_lines)
        n = int(samples.get(name, len(found)))
        shuffled = rng.sample(found, len(found))
        per_file: Counter = Counter()
        chosen = []
        for it in shuffled:  # at most --per-file from one file: a generated module of 200 wrappers is not the package
            if len(chosen) < n and per_file[it["path"]] < args.per_file:
                per_file[it["path"]] += 1
                chosen.append(it)
        items += [{**it, "source": name} for it in chosen]
    outputs: dict[str, list[str]] = {NAME_RULE: [name_summary(it["qualname"], it["code"]) for it in items]}
    seconds: dict[str, float] = {}
    for name, model_dir in systems.items():
        summarizer = Summarizer.load(Path(model_dir))
        t0 = time.perf_counter()
        outputs[name] = summarizer.summarize([it["model_input"] for it in items])
        seconds[name] = (time.perf_counter() - t0) / max(1, len(items))
        summarizer.stop()
    out = Path(args.out)
    for name, spec in _pairs(args.teacher, "--teacher").items():
        # each teacher's replies are kept as they finish (OUT/outputs/NAME.json), so a run cut short resumes there
        saved = out / "outputs" / f"{name}.json"
        ids = [f"{it['path']}:{it['line']}" for it in items]
        got = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else {}
        if got.get("spec") == spec and got.get("items") == ids:
            outputs[name], seconds[name] = got["outputs"], got["seconds_per_item"]
        else:
            outputs[name], seconds[name] = _teacher_outputs(spec, items, args.threads)
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps({"spec": spec, "items": ids, "outputs": outputs[name],
                                         "seconds_per_item": seconds[name]}), encoding="utf-8")
        print(f"{name}: {seconds[name]:.2f} s an item", flush=True)
        systems[name] = spec
    out.mkdir(parents=True, exist_ok=True)
    key, sheet = {}, ["# Rate each summary", "",
                      "For each function: read the code, then rate every summary under it on its own:",
                      "**2** correct and informative (says what the function does, beyond its name), "
                      "**1** vague (true, but says little more than the name), "
                      "**0** wrong or misleading (states something the code does not do).", ""]
    for i, it in enumerate(items):
        letters = list(string.ascii_uppercase[: len(outputs)])
        names = list(outputs)
        rng.shuffle(names)
        key[str(i)] = dict(zip(letters, names, strict=True))
        lines = (it["code"] if args.show_docstrings else it["model_input"]).splitlines()
        shown = "\n".join(lines[:MAX_SHOWN_LINES]) + ("\n…" if len(lines) > MAX_SHOWN_LINES else "")
        sheet += [f"## Item {i}: `{it['qualname']}` ({it['path']}:{it['line']})", "", f"```{it['language']}", shown,
                  "```", ""]
        sheet += [f"- **{letter}**: {outputs[name][i]}" for letter, name in key[str(i)].items()]
        sheet.append("")
    (out / "sheet.md").write_text("\n".join(sheet), encoding="utf-8")
    (out / "key.json").write_text(json.dumps({"items": [{k: v for k, v in it.items() if k != "model_input"}
                                                        for it in items], "key": key, "outputs": outputs,
                                              "systems": systems, "seconds_per_item": seconds, "seed": args.seed},
                                             indent=1), encoding="utf-8")
    print(f"{len(items)} items, systems {sorted(outputs)}: give {out / 'sheet.md'} (only) to the reader; "
          f"ratings go to {out / 'ratings.json'}")
    return 0


def _teacher_outputs(spec: str, items: list[dict], threads: int) -> tuple[list[str], float]:
    """A teacher system ``GGUF@PROMPT_ID``: its cleaned replies (a refused one shows as the name rule's sentence,
    as a backend would) and its seconds per item."""
    from lenscribe.prompts import PROMPTS
    from lenscribe_training.teacher.runner import Teacher

    path, _, prompt_id = spec.rpartition("@")
    if not path or prompt_id not in PROMPTS:
        raise SystemExit(f"--teacher must be NAME=GGUF@PROMPT_ID with a prompt of {sorted(PROMPTS)}: {spec!r}")
    teacher = Teacher.open(Path(path), threads)
    out, t0 = [], time.perf_counter()
    for it in items:
        a = teacher.ask(PROMPTS[prompt_id], it["model_input"], it["language"], it["kind"])
        out.append(a.reply.text or name_summary(it["qualname"], it["code"]))
    teacher.close()
    return out, (time.perf_counter() - t0) / max(1, len(items))


def score(args: argparse.Namespace) -> int:
    out = Path(args.out)
    data = json.loads((out / "key.json").read_text(encoding="utf-8"))
    ratings = json.loads((out / "ratings.json").read_text(encoding="utf-8"))
    table: dict[tuple[str, str], Counter] = {}
    for i, letters in data["key"].items():
        source = data["items"][int(i)]["source"]
        for letter, system in letters.items():
            r = ratings.get(i, {}).get(letter)
            if r not in (0, 1, 2):
                print(f"item {i} {letter}: no rating", file=sys.stderr)
                continue
            for group in (source, "all"):
                table.setdefault((system, group), Counter())[r] += 1
    # what the editor shows with lenscribe.groundingCheck on: each model's summary, or the name rule's sentence where
    # the check withholds it (the name rule's rating then counts)
    from lenscribe.grounding import check

    for system in [s for s in data["systems"] if NAME_RULE in data["outputs"]]:
        for i, letters in data["key"].items():
            item = data["items"][int(i)]
            withheld = check(data["outputs"][system][int(i)], item["code"], item["qualname"]).withheld
            pick = NAME_RULE if withheld else system
            r = ratings.get(i, {}).get(next(k for k, v in letters.items() if v == pick))
            if r in (0, 1, 2):
                for group in (item["source"], "all"):
                    table.setdefault((f"{system}+check", group), Counter())[r] += 1
    rows = {}
    print(f"{'system':<12} {'items':<10} {'n':>4} {'2 right':>8} {'1 vague':>8} {'0 wrong':>8} {'mean':>6}")
    for (system, group), c in sorted(table.items()):
        n = sum(c.values())
        mean = (2 * c[2] + c[1]) / n
        rows[f"{system}/{group}"] = {"n": n, "2": c[2], "1": c[1], "0": c[0], "mean": round(mean, 3)}
        print(f"{system:<12} {group:<10} {n:>4} {c[2]:>8} {c[1]:>8} {c[0]:>8} {mean:>6.2f}")
    (out / "scores.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("prepare")
    a.add_argument("out")
    a.add_argument("--source", action="append", default=[], help="NAME=PATH (a directory or a file)")
    a.add_argument("--sample", action="append", default=[], help="NAME=N: N random items of that source (else all)")
    a.add_argument("--system", action="append", default=[], help="NAME=MODEL_DIR")
    a.add_argument("--min-lines", type=int, default=3)
    a.add_argument("--per-file", type=int, default=3, help="at most this many items from one file (default 3)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--teacher", action="append", default=[], help="NAME=GGUF@PROMPT_ID (lenscribe.prompts)")
    a.add_argument("--threads", type=int, default=2, help="teacher threads (default 2)")
    a.add_argument("--show-docstrings", action="store_true", help="show the reader the code with its docstring")
    a.set_defaults(func=prepare)
    s = sub.add_parser("score")
    s.add_argument("out")
    s.set_defaults(func=score)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
