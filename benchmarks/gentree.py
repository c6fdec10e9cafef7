"""Generate a source tree of N distinct small Python functions (for bench_ray.py and the Ray tests).

    python benchmarks/gentree.py OUT_DIR --functions 20000 [--per-file 50] [--seed 0]

Each function is distinct (its chunk hash differs), 3-8 lines, with varied names, parameters and bodies, so the
tokenizer and the model see realistic lengths; the same arguments always write the same tree.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

VERBS = ["load", "save", "parse", "render", "count", "merge", "split", "find", "check", "build", "update", "remove",
         "normalize", "validate", "format", "compute", "fetch", "filter", "sort", "convert"]
NOUNS = ["config", "user", "items", "record", "path", "token", "order", "cache", "report", "message", "row", "entry",
         "header", "value", "price", "name", "score", "event", "file", "batch"]
BODIES = [
    "    result = []\n    for x in {a}:\n        if x:\n            result.append(x)\n    return result",
    "    total = 0\n    for x in {a}:\n        total += x * {n}\n    return total",
    "    if not {a}:\n        return None\n    return {a}[{n} % len({a})]",
    "    with open({a}) as f:\n        data = f.read()\n    return data.split({s!r})",
    "    out = dict({a})\n    out[{s!r}] = {n}\n    return out",
    "    return sorted({a}, key=lambda v: v.get({s!r}, {n}))",
    "    text = str({a}).strip()\n    if len(text) > {n}:\n        text = text[:{n}]\n    return text.lower()",
    "    try:\n        return int({a}) + {n}\n    except ValueError:\n        return {n}",
]


def function_source(i: int, rng: random.Random) -> str:
    verb, noun = rng.choice(VERBS), rng.choice(NOUNS)
    arg = rng.choice(NOUNS) + "s"
    body = rng.choice(BODIES).format(a=arg, n=i % 97 + 1, s=rng.choice(NOUNS))
    return f"def {verb}_{noun}_{i}({arg}):\n{body}\n"


def generate_tree(out: Path | str, functions: int, per_file: int = 50, seed: int = 0) -> list[Path]:
    """Write ``functions`` functions into ``out``/pkgNN/modNNNN.py, ``per_file`` per file; returns the files."""
    out = Path(out)
    rng = random.Random(seed)
    files: list[Path] = []
    for start in range(0, functions, per_file):
        number = start // per_file
        path = out / f"pkg{number // 100:02d}" / f"mod{number:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        funcs = [function_source(i, rng) for i in range(start, min(start + per_file, functions))]
        path.write_text("\n\n".join(funcs), encoding="utf-8")
        files.append(path)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--functions", type=int, default=20_000)
    ap.add_argument("--per-file", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = generate_tree(args.out, args.functions, args.per_file, args.seed)
    print(f"{args.functions} functions in {len(files)} files under {args.out}")


if __name__ == "__main__":
    main()
