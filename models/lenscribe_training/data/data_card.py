"""Render the data card (models/DATA_CARD.md) from a build's stats.json and sources.json.

    PYTHONPATH=models:server python -m lenscribe_training.data.data_card .cache/data [--out models/DATA_CARD.md]
        [--runtime "11 min on 2 cores"] [--extra .cache/data-extra] [--training-run RUN/training_run.json]
        [--eval EVAL.json ...]

``--training-run`` adds the shipped model's section (size, the choice of size, the run, its validation curve) from
train.py's ``training_run.json``; each ``--eval`` is a ``lenscribe eval --json`` result on the held-out test split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lenscribe_training.data.corpus_sources import DEBIAN_PACKAGES
from lenscribe_training.data.dataset_filters import SPLIT_SALT

SPLITS = ("train", "valid", "test")

FILTERS = [
    ("no_doc", "the chunk has no docstring / doc comment (not a candidate; counted for reference)"),
    ("test_function", "test functions: names test_* / *_test / Test* / *Tests, Go Test*/Benchmark*/Example*/Fuzz*"),
    ("dunder", "Python dunder methods other than __init__ and __call__"),
    ("doc_inherit", "{@inheritDoc} / @inheritdoc anywhere in the doc (overridden members)"),
    ("doc_empty", "nothing left of the first sentence (doc starts with tags, a section or a doctest)"),
    ("doc_non_english", "more than 20% of the summary's letters are non-ASCII"),
    ("doc_boilerplate", "TODO/FIXME, constructor boilerplate, auto-generated, copyright, created by, author, "
                        "license, deprecated, see super, 'Initialize self', tag-only docs"),
    ("doc_truncated", "the first-sentence cut went wrong: ends on an abbreviation such as '(e.g.' or leaves a "
                      "bracket open"),
    ("doc_too_short", "summary under 3 word tokens"),
    ("doc_too_long", "summary over 40 word tokens"),
    ("code_too_short", "code (doc removed) under 3 non-blank lines"),
    ("code_minified", "a code line over 1000 characters"),
    ("code_too_long", "functions / methods over 512 CodeT5 tokens (or 8192 characters): dropped"),
    ("class_truncated (kept)", "classes over 512 CodeT5 tokens: kept, cut at the last line break within 512 tokens"),
    ("dup_code", "duplicate code (all white space removed), first occurrence kept"),
    ("dup_doc_name", "same name and same summary (case, punctuation, spacing ignored), first kept"),
    ("file_chunk_error", "files the chunker could not process"),
]


def render_extra(stats: dict, sources: list[dict]) -> list[str]:
    """Section for an optional-language build (--languages rust,ruby,php) kept in its own directory."""
    counts = stats["counts"]
    langs = list(counts)
    lines = ["", "## Optional languages (separate build)", "",
             "Built on demand into their own directory with "
             "`PYTHONPATH=models:server python -m lenscribe_training.data.build_dataset --out .cache/data-extra "
             f"--languages {','.join(langs)}`; "
             "same filters and the same record format. Their split groups are independent of the default "
             "languages', so these files can be concatenated with the default ones without any package crossing "
             "splits.", "",
             "| language | train | valid | test | total |", "| --- | ---: | ---: | ---: | ---: |"]
    for lang in langs:
        c = counts[lang]
        lines.append(f"| {lang} | {c['train']:,} | {c['valid']:,} | {c['test']:,} | {sum(c.values()):,} |")
    lines += ["", "Held-out packages: " + "; ".join(
        f"{lang} {sp}: " + ", ".join(f"`{p}`" for p in stats["packages"][lang][sp])
        for lang in langs for sp in ("valid", "test")), ""]
    drops = stats["drops"]
    lines += ["| reason | " + " | ".join(langs) + " |", "| --- | " + " | ".join("---:" for _ in langs) + " |"]
    keys = ["chunks"] + [k for k, _ in FILTERS]
    for key in dict.fromkeys(keys):
        lines.append(f"| {key} | " + " | ".join(f"{drops[lang].get(key, 0):,}" for lang in langs) + " |")
    lines += ["", "Sources (Debian bookworm packages, `apt-get download NAME=VERSION`):", "",
              "| package | version | language | license | file sha256 (prefix) |", "| --- | --- | --- | --- | --- |"]
    deb_lang = {n: lang for n, _v, lang in DEBIAN_PACKAGES}
    for s in sources:
        if s["kind"] == "debian":
            lines.append(f"| {s['name']} | {s['version']} | {deb_lang.get(s['name'], '?')} | {s['license']} | "
                         f"`{s['sha256'][:16]}` |")
    return lines


def render(stats: dict, sources: list[dict], runtime: str | None, extra: tuple[dict, list[dict]] | None = None) -> str:
    counts = stats["counts"]
    langs = list(counts)
    lines = ["# Data card: lenscribe code-summarization data set", ""]
    lines += [
        "Pairs of (code, one-sentence summary) mined from permissively-licensed and copyleft-with-exception "
        "open-source code that we fetch ourselves with the ordinary package clients (pip, apt-get, npm). "
        "The summary is the first sentence of the function's / class's own docstring or doc comment; the code "
        "is the chunk as lenscribe's tree-sitter chunker cuts it, with its own docstring removed (Python) — other "
        "languages' doc comments sit above the chunk and are never part of it.",
        "",
        "Files (not committed; `.cache/` is ignored): `.cache/data/{train,valid,test}.jsonl`, one JSON object a line",
        '`{"id", "language", "package", "path", "name", "code", "doc"}`, sorted by `id`; `stats.json` (file counts, '
        "drop counts, per-split package lists), `sources.json` (every input with version, sha256 and license), "
        "and `READY` (written last).",
        "",
        "## Counts",
        "",
        "| language | train | valid | test | total |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    tot = {s: 0 for s in SPLITS}
    for lang in langs:
        c = counts[lang]
        for s in SPLITS:
            tot[s] += c[s]
        lines.append(f"| {lang} | {c['train']:,} | {c['valid']:,} | {c['test']:,} | {sum(c.values()):,} |")
    lines.append(f"| **all** | {tot['train']:,} | {tot['valid']:,} | {tot['test']:,} | {sum(tot.values()):,} |")
    lines += ["", "Source files read per language: " + ", ".join(f"{k} {v:,}" for k, v in stats["files"].items()),
              ""]
    lines += ["### Held-out packages", ""]
    for lang in langs:
        for s in ("valid", "test"):
            pk = stats["packages"][lang][s]
            lines.append(f"- {lang} {s} ({len(pk)}): " + ", ".join(f"`{p}`" for p in pk))
    lines += [
        "",
        "## Splits",
        "",
        "By package, never by function: every package (a PyPI distribution, an npm package, one top-level module of "
        "the Python standard library, one JDK module, one Go standard-library directory — `cmd/*`, `internal/*`, "
        "`runtime/*` one level deeper) is entirely in one split. Splits are assigned per group of languages that "
        "share packages (Python; Java; Go; JavaScript + TypeScript, which come from the same npm packages; each "
        "optional language alone), so a package is in one split for all its languages. In a group, packages are "
        f"visited in the order of sha256(`{SPLIT_SALT}` NUL package); each goes to `test`, else `valid`, while "
        "that split is below its quota (5% of the group's pairs, at least 1,000 for Python, 500 for Java and Go, "
        "700 for JavaScript + TypeScript, 300 for each optional language — but never more than 10% of a group) "
        "and the package would not push it past 1.5x the quota; everything else is `train`. De-duplication runs "
        "before the split, over all packages of a language, so no code is in two splits. The second-round PyPI "
        "list (below) goes to `train` whole and is left out of the quotas, and its copies of a function lose the "
        "de-duplication tie to the first round's, so adding it left every held-out split exactly as it was "
        "(`build_dataset.py --first-round` builds the data set without it). The held-out packages this gave are "
        "pinned in `models/lenscribe_training/data/held_out.json`: a build (or `build_dataset --resplit` of a built "
        "folder) puts "
        "exactly those packages in valid and test and every other package of those languages in train, so neither "
        "a new source nor a change of chunk counts can move a package the shipped model trained on into a held-out "
        "split.",
        "",
        "## Filters (CodeSearchNet-style) and what they dropped",
        "",
        "Counted per chunk, first matching reason only, in this order: name, doc, code, length; then de-duplication.",
        "",
        "| reason | what | " + " | ".join(langs) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in langs) + " |",
    ]
    drops = stats["drops"]
    lines.append("| chunks | functions, methods and classes found | "
                 + " | ".join(f"{drops[lang].get('chunks', 0):,}" for lang in langs) + " |")
    for key, what in FILTERS:
        lines.append(f"| {key} | {what} | " + " | ".join(f"{drops[lang].get(key, 0):,}" for lang in langs) + " |")
    lines += [
        "",
        "Doc clean-up before filtering: `lenscribe.chunking.first_sentence` (first paragraph up to the first tag / "
        "section, first sentence, inline markup removed); for Python a leading C-style signature line "
        "(`name(args) -> ret`) is dropped first; then reST roles / literals, Javadoc inline tags, HTML tags and "
        "entities and Markdown links are reduced to their text, the first letter is upper-cased and a final period "
        "added when the sentence ends in a word. Go summaries written as `Name verbs ...` lose the leading name "
        "(`Join concatenates ...` -> `Concatenates ...`) so summaries read alike across languages.",
        "",
        "Files skipped: tests, examples, docs, benchmarks, fixtures, vendored copies (`test(s)/`, `testdata/`, "
        "`_vendor/`, `vendor/`, `extern/`, `node_modules/`, `*_test.go`, `test_*.py`, `*.spec.ts`, ...), "
        "`*.min.js`, `*.d.ts`, files with a 1,500-character line (minified), generated Go files, files over 600 kB, "
        "non-UTF-8 files; npm packages that ship `src/` or `lib/` contribute only those (not their `dist/` builds); "
        "JDK modules `jdk.internal.*`, `jdk.incubator.*`, `jdk.localedata`, `jdk.charsets`; the stdlib's `test`, "
        "`idlelib`, `lib2to3`, `tkinter`, `turtledemo`, `ensurepip`, `encodings`, `pydoc_data`.",
        "",
        f"Code is stored as the model sees it (`lenscribe.model_input.prepare_code`: tabs expanded, trailing blanks "
        "dropped). Token counts use the CodeT5 BPE tokenizer shipped in `lenscribe/assets` "
        f"(max {stats['max_code_tokens']} tokens, `<s>`/`</s>` included).",
        "",
        "## Sources",
        "",
        f"- Python standard library of CPython {stats['python_version']} (the interpreter running the build; "
        "PSF-2.0).",
    ]
    deb_lang = {n: lang for n, _v, lang in DEBIAN_PACKAGES}
    debs = [s for s in sources if s["kind"] == "debian"]
    for deb in debs:
        lines.append(f"- Debian bookworm `{deb['name']}` {deb['version']} ({deb_lang.get(deb['name'], '?')}; "
                     f"{deb['license']}), sha256 `{deb['sha256'][:16]}…`")
    pypi = [s for s in sources if s["kind"] == "pypi" and not s.get("train_only")]
    pypi2 = [s for s in sources if s["kind"] == "pypi" and s.get("train_only")]
    npm = [s for s in sources if s["kind"] == "npm"]
    how = "wheels, `pip download --no-deps --only-binary :all:`"
    tables = [(f"PyPI ({len(pypi)} distributions, {how}):", pypi)]
    if pypi2:
        tables.append((f"PyPI, second round ({len(pypi2)} distributions, {how}; train split only):", pypi2))
    tables.append((f"npm ({len(npm)} packages, `npm pack NAME@VERSION`):", npm))
    for title, rows in tables:
        lines += ["", title, "", "| package | version | license | file sha256 (prefix) |", "| --- | --- | --- | --- |"]
        lines += [f"| {s['name']} | {s['version']} | {s['license']} | `{s['sha256'][:16]}` |" for s in rows]
    lines += [
        "",
        "Licenses are as declared by each package (wheel METADATA `License-Expression` / license classifiers, "
        "npm `package.json`, the Debian copyright file; OpenJDK is GPL-2.0 with the Classpath exception). The data "
        "set is used only to train the model; no source code from it ships with lenscribe.",
        "",
        "## Rebuild",
        "",
        "```",
        "export PYTHONPATH=models:server   # from the checkout: the training package (models/lenscribe_training)",
        "python -m lenscribe_training.data.build_dataset --out .cache/data  # fetch (cached in .cache/corpus) + build",
        "python -m lenscribe_training.data.build_dataset --out .cache/data-first-round --languages python "
        "--first-round",
        "python -m lenscribe_training.data.build_dataset --out .cache/data-extra --languages rust,ruby,php  "
        "# optional",
        "python -m lenscribe_training.data.data_card .cache/data --extra .cache/data-extra --out models/DATA_CARD.md",
        "```",
        "",
        "Needs the project virtualenv (`lenscribe` with its tree-sitter grammars and tokenizer), `pip`, `apt-get` with "
        "`dpkg-deb` (Debian bookworm package lists; run `apt-get update` once) and `npm`. A source that cannot be "
        "fetched is logged and left out (the build goes on), which changes the output: check the log and "
        "`sources.json`. Debian security updates can retire a pinned `+debNuN` version; the pins then need a bump.",
        "",
        "Deterministic: the same pinned inputs and interpreter give byte-identical JSONL files (sorted output, "
        "no time stamps, hash-based splits, results gathered in input order whatever `--jobs` is). The pins live "
        "in `models/lenscribe_training/data/corpus_sources.py`; `sources.json` records what was actually read.",
    ]
    if runtime:
        lines += ["", f"Measured build time: {runtime}."]
    if extra is not None:
        lines += render_extra(*extra)
    lines.append("")
    return "\n".join(lines)


def _eval_rows(evals: list[dict]) -> list[str]:
    rows = ["| model | decoding | language | n | BLEU-4 | exact match | degenerate | empty | ms / summary |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for ev in evals:
        name = ev.get("model_id") or Path(ev.get("model_dir", "?")).name
        beams = ev.get("beams", 1)
        decoding = "greedy" if beams <= 1 else f"beam {beams}"
        penalty = ev.get("repetition_penalty", 1.0)  # absent: an eval from before the option (no penalty)
        decoding += f", repetition penalty {penalty:g}" if penalty != 1.0 else ""
        for rep in ev["languages"]:
            rows.append(f"| `{name}` | {decoding} | {rep['language']} | {rep['n']:,} | {rep['bleu']:.2f} | "
                        f"{100 * rep['exact_match']:.1f}% | {100 * rep['degenerate']:.1f}% | {100 * rep['empty']:.1f}% "
                        f"| {rep['ms_per_summary']:.1f} |")
    return rows


def _optimiser(args: dict) -> str:
    if args.get("optimizer") == "adafactor":
        return "Adafactor (steps scaled by each parameter's RMS, as T5 was trained)"
    mult = args.get("embed_lr_mult") or 1.0
    return "AdamW" + (f" (embedding at {mult:g}x the learning rate)" if mult != 1.0 else "")


def _gain(h: dict) -> str:
    return f"{h['source_gain']:.3f}" if "source_gain" in h else "-"


def _recipe_rows(args: dict, embed_init: dict | None, stage: str = "", inputs: bool = False) -> list[str]:
    """Optimiser, embedding start and name curriculum of one training stage (``stage``: a prefix for the rows;
    ``inputs``: also its source length, when the stages differ in it)."""
    return [
        *([f"| {stage}inputs | {args['max_src']} source tokens |"] if inputs else []),
        f"| {stage}optimiser | {_optimiser(args)}, lr {args['lr']:g}, {args['warmup']} warm-up steps then linear "
        f"decay to 0 over the {args.get('time_budget_min') or '?'} min budget, label smoothing "
        f"{args['label_smoothing']}, dropout {args['dropout']}, batches of at most {args['max_tokens']:,} padded "
        f"source tokens, {args.get('precision', 'auto')} precision |",
        *([f"| {stage}embedding start | by words: {embed_init['shared_word_tokens']:,} tokens share the vector of "
           f"their word ({embed_init['words']:,} words), {embed_init['composed_identifier_tokens']:,} identifier "
           f"tokens start as the sum of their words' |"] if embed_init else []),
        *([f"| {stage}name curriculum | {100 * args['aux_name_frac']:.0f}% of examples at first asked for their own "
           f"name's words, falling to none at {100 * args['aux_name_until']:.0f}% of the run |"]
          if args.get("aux_name_frac") else []),
    ]


def _earlier_stages(run: dict) -> list[dict]:
    """The warm-start records of a run (train.py --init-from), first stage first; [] for a run from scratch."""
    chain, warm = [], run.get("warm_start")
    while warm:
        chain.append(warm)
        warm = warm.get("warm_start")
    return chain[::-1]


_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def _examples(stage: dict) -> str:
    """How many examples a stage saw; a fast_train run counts tokens instead (its record has no examples_seen)."""
    seen = stage.get("examples_seen")
    return f"{seen:,} examples" if seen is not None else "examples not counted"


def _handover(warm: dict) -> str:
    """How a stage's weights started the next one (a warm-start record holds both): its last checkpoint, or the model
    shipped from it read back from the int8 ONNX (onnx_weights.py, once the checkpoint was gone), and a decoder grown
    with copies of its blocks (--grow-dec-layers)."""
    how = "its last checkpoint starts"
    if warm.get("recovered"):
        how = (f"the model shipped from it (`{warm['recovered'].get('model_id')}`), read back from its int8 ONNX "
               "(`onnx_weights.py`), starts")
    grown = warm.get("dec_layers")
    if grown and grown[0] != grown[1]:
        how += f" with its {grown[0]} decoder blocks grown to {grown[1]} (copies stacked on top, `--grow-dec-layers`)"
    return how


def render_training(run: dict, evals: list[dict]) -> list[str]:
    """The shipped model's section: its architecture, why that size, the training run(s) and held-out scores.

    A warm-started run (train.py --init-from) is shown stage by stage: the runs it started from, then itself."""
    cfg, args = run["model_config"], run["args"]
    hist = run.get("history") or []
    hw = run.get("hardware", {})
    earlier = _earlier_stages(run)
    device = hw.get("gpu") or f"CPU ({hw.get('cpu_count', '?')} cores, torch {hw.get('torch', '?')})"
    train_n = run["data"]["splits"]["train"]["examples"]
    langs = ", ".join((args.get("languages") or "").split(",")) or "all"
    epochs = run["examples_seen"] / max(1, train_n)
    minutes = run["train_time_s"] / 60
    run_row = (f"{run['steps']:,} steps, {run['examples_seen']:,} examples ({epochs:.2f} "
               f"epochs of {train_n:,}), {minutes:.0f} min on {device}; stopped by {run['stopped_by']}")
    if earlier:
        n = len(earlier) + 1
        how = (f"trained by `models/lenscribe_training/trainers/train.py` in {_COUNT_WORDS.get(n, n)} stages: from "
               f"scratch on the first round of the {langs} train split, then warm-started (`--init-from`) "
               + ("" if n == 2 else "from the stage before ") + f"on the whole {langs} train split above")
        inputs_differ = len({w["args"]["max_src"] for w in earlier} | {args["max_src"]}) > 1
        stage_rows = []
        for i, warm in enumerate(earlier, 1):
            wargs = warm["args"]
            if "lr" not in wargs:  # weights read back from a shipped model whose training record was not kept
                stage_rows.append(f"| stage {i} | not recorded; {_handover(warm)} stage {i + 1} |")
                continue
            stage_rows += [
                *_recipe_rows(wargs, warm.get("embed_init"), f"stage {i} ", inputs_differ),
                f"| stage {i} run | {warm['steps']:,} steps, {_examples(warm)}, "
                f"{warm['train_time_s'] / 60:.0f} min; "
                f"best valid BLEU-4 {warm.get('best_valid_bleu', float('nan')):.2f} "
                f"at step {warm.get('best_step') or 0:,}; {_handover(warm)} "
                f"stage {i + 1} |"]
        stage_rows += [*_recipe_rows(args, None, f"stage {n} ", inputs_differ), f"| stage {n} run | {run_row} |"]
    else:
        how = f"trained from scratch by `models/lenscribe_training/trainers/train.py` on the {langs} train split above"
        stage_rows = [*_recipe_rows(args, run.get("embed_init")), f"| run | {run_row} |"]
    size_choice = run.get("size_choice") or next((w["args"].get("size_note") for w in reversed(earlier)
                                                  if w["args"].get("size_note")), None)
    lines = [
        "", "## The shipped model and its training run", "",
        f"`models/lenscribe-small`: a T5ForConditionalGeneration in CodeT5's conventions (CodeT5 BPE tokenizer, "
        f"vocabulary {cfg['vocab_size']:,}, pad 0 / bos 1 / eos 2, decoder start 0, tied embeddings, "
        "ReLU feed-forward, "
        f"relative position buckets), {how}.", "",
        "| | |", "| --- | --- |",
        f"| parameters | {run['parameters']:,} ({run['weights_mib_fp32']} MiB fp32) |",
        f"| shape | d_model {cfg['d_model']}, {cfg['num_heads']} heads, d_ff {cfg['d_ff']}, "
        f"{cfg['num_layers']} encoder / {cfg['num_decoder_layers']} decoder layers |",
        f"| inputs | code cut to {args['max_src']} source tokens (head kept), summaries to {args['max_tgt']} tokens |",
        *stage_rows,
        f"| threads | {args.get('threads') or 'all'} torch thread(s) |",
        f"| kept | {run['kept']} |" if run.get("kept") else  # chosen after the run (build_default_model.sh step 2d)
        f"| kept | the best of the validation checks (smoothed BLEU-4 {run['best_valid_bleu']:.2f} on "
        f"{args['eval_examples']} fixed valid examples, step {run['best_step']:,}) |",
        "", f"Why this size: {(size_choice or '(not recorded)').rstrip('.')}.", "",
        *([f"How it went: {run['note'].rstrip('.')}.", ""] if run.get("note") else []),
    ]
    stages = ([(str(i), w.get("history") or []) for i, w in enumerate(earlier, 1)] + [(str(len(earlier) + 1), hist)]
              if earlier else [("", hist)])
    cols = ["stage"] * bool(earlier) + ["step", "minutes", "train loss", "valid loss", "code gain", "valid BLEU-4"]
    if any(h for _, h in stages):
        lines += [f"Validation during the run ({run.get('bleu_definition', 'greedy, PyTorch fp32')}; \"code gain\": "
                  "the valid loss with each example's targets given another example's code, minus the valid loss: "
                  "how much the predictions use the code):", "",
                  "| " + " | ".join(cols) + " |", "|" + " ---: |" * len(cols)]
        lines += [f"| {f'{stage} | ' if earlier else ''}{h['step']:,} | {h['elapsed_s'] / 60:.0f} | "
                  f"{h['train_loss']:.3f} | {h['valid_loss']:.3f} | {_gain(h)} | {h['bleu']:.2f} |"
                  for stage, hh in stages for h in hh]
        lines.append("")
    if evals:
        lines += ["Held-out test split, `lenscribe eval` (onnxruntime, the summaries as the editor shows them):",
                  ""] + _eval_rows(evals) + [""]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "DATA_CARD.md")
    p.add_argument("--runtime", default=None)
    p.add_argument("--extra", type=Path, default=None, help="an optional-language build directory to add")
    p.add_argument("--training-run", type=Path, default=None, help="train.py's training_run.json of the shipped model")
    p.add_argument("--eval", type=Path, action="append", default=[],
                   help="a `lenscribe eval --json` result (repeatable)")
    a = p.parse_args(argv)
    stats = json.loads((a.data / "stats.json").read_text())
    sources = json.loads((a.data / "sources.json").read_text())
    extra = None
    if a.extra is not None:
        extra = (json.loads((a.extra / "stats.json").read_text()), json.loads((a.extra / "sources.json").read_text()))
    text = render(stats, sources, a.runtime, extra)
    if a.training_run is not None:
        run = json.loads(a.training_run.read_text())
        text += "\n".join(render_training(run, [json.loads(e.read_text()) for e in a.eval]))
    a.out.write_text(text)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
