"""A summary is a function of (model, chunk): the same whether the chunk is summarized alone or with others.

The int8 graphs quantize activations dynamically (DynamicQuantizeLinear computes one scale over the whole tensor,
every row and the padding), so a batched call used to give some chunks other words than alone (issue 15, item 10) while
the cache promises one value per chunk. The summarizer as the server loads it (default options) must not depend on
the batch; the shipped model shows the effect, the tiny test model (peaked logits) does not.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lenscribe.decoding import GenerationOptions
from lenscribe.summarizer import Summarizer

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "lenscribe-small"

VERBS = ["parse", "load", "merge", "count", "render", "split", "check", "build", "scale", "send", "find", "sort"]
NOUNS = ["items", "config", "users", "rows", "tokens", "matrix", "events", "paths", "names", "bytes", "nodes"]


def functions(n: int, seed: int = 0) -> list[str]:
    """``n`` different short Python functions of varied length (so batches are padded)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        v, noun = rng.choice(VERBS), rng.choice(NOUNS)
        body = [f"    result = {rng.choice(['[]', '{}', '0', 'None'])}", f"    for x in {noun}:"]
        for j in range(rng.randint(1, 6)):
            body.append(f"        if x > {rng.randint(0, 99)}:\n            result = helper_{i}(result, x * {j + 1})")
        body.append("    return result")
        out.append(f"def {v}_{noun}_{i}({noun}, scale={rng.randint(1, 9)}):\n" + "\n".join(body))
    out.append("def helper_9(value, scale=1):\n    if value is None:\n        return scale\n    return value * scale")
    out.append("def close(self):\n    if self.conn is not None:\n        self.conn.close()\n        self.conn = None")
    return out


@pytest.mark.skipif(not (SHIPPED / "manifest.json").is_file(), reason="the shipped model is not in this checkout")
def test_a_summary_does_not_depend_on_its_batch() -> None:
    s = Summarizer.load(SHIPPED, threads=1, options=GenerationOptions())  # the options the server loads with
    codes = functions(14)
    alone = [s.summarize([c])[0] for c in codes]
    assert len(set(alone)) > len(codes) // 2  # real, different summaries
    for size in (2, 3, 5, len(codes)):
        together: list[str] = []
        for start in range(0, len(codes), size):
            together += s.summarize(codes[start : start + size])
        diff = [(codes[i].split("(")[0], alone[i], together[i]) for i in range(len(codes)) if alone[i] != together[i]]
        assert not diff, f"batches of {size}: {diff}"
