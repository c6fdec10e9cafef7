"""A summary is a function of (model, chunk): the same whether the chunk is summarized alone or with others.

onnxruntime's dynamic quantization computes one activation scale over a whole tensor (every row of a batch and the
padding), so a batched call used to give some chunks other words than alone (issue 15, item 10) while the cache
promises one value per chunk; the server then decoded every chunk alone. Since issue 25 each chunk is encoded alone
and the decoder quantizes each row on its own: every path batches, and a row's logits are the same bits in any batch.
The shipped model shows the old effect in its words; the tiny test model's peaked logits hide it in words, not in bits.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def test_every_row_is_the_same_bits_alone_and_in_a_batch(tiny_model_dir: Path) -> None:
    """The engine's numbers, not only its words (the tiny model's peaked logits hide a changed scale in its tokens):
    each input's teacher-forced logits through a batch of 3, 8 or 32 padded inputs equal its logits alone, bit for
    bit. With one activation scale per batch tensor (onnxruntime's dynamic quantization) they do not."""
    from lenscribe.generation import Seq2SeqOnnx
    from lenscribe.modelfiles import load_manifest

    manifest = load_manifest(tiny_model_dir)
    s = Summarizer.load(tiny_model_dir, threads=1)
    engine = Seq2SeqOnnx(manifest.path("encoder"), manifest.path("decoder"), manifest.architecture, 1)
    inputs = [s.encode(c)[0] for c in functions(32, seed=3)]
    assert len({len(x) for x in inputs}) > 5  # padded batches
    decoder_ids = [812, 33, 9, 1204]
    alone = [engine.forced_logits(ids, decoder_ids) for ids in inputs]
    for size in (3, 8, 32):
        for start in range(0, len(inputs), size):
            together = engine.batch_forced_logits(inputs[start : start + size], decoder_ids)
            for row in range(len(together)):
                assert np.array_equal(together[row], alone[start + row]), (size, start + row)
    # and the tokens of a whole generation, with rows leaving the batch as they finish
    generated = [engine.generate([ids], max_new_tokens=12)[0] for ids in inputs]
    assert len({len(g) for g in generated if len(g) < 12}) > 1  # rows leave the batch at different steps
    assert engine.generate(inputs, max_new_tokens=12) == generated



def test_a_batch_encoded_on_several_threads_is_the_same_bits(tiny_model_dir: Path) -> None:
    """With more than one thread, a batch's encoder runs go on several threads at once (``_encode_each``) and its rows
    decode in groups at once (``generate``): each row's logits, and every generation, are still the bits of one thread
    encoding and decoding one input at a time."""
    import threading

    from lenscribe.generation import Seq2SeqOnnx
    from lenscribe.modelfiles import load_manifest

    manifest = load_manifest(tiny_model_dir)
    s = Summarizer.load(tiny_model_dir, threads=1)
    one = Seq2SeqOnnx(manifest.path("encoder"), manifest.path("decoder"), manifest.architecture, 1)
    two = Seq2SeqOnnx(manifest.path("encoder"), manifest.path("decoder"), manifest.architecture, 2)
    encoded_on: set[str] = set()
    encode = two.encode

    def recording(ids, mask):
        encoded_on.add(threading.current_thread().name)
        return encode(ids, mask)

    two.encode = recording  # type: ignore[method-assign]
    inputs = [s.encode(c)[0] for c in functions(32, seed=5)][:32]  # batches of 3 and 32: none alone
    decoder_ids = [812, 33, 9, 1204]
    alone = [one.forced_logits(ids, decoder_ids) for ids in inputs]
    for size in (3, 32):
        for start in range(0, len(inputs), size):
            together = two.batch_forced_logits(inputs[start : start + size], decoder_ids)
            for row in range(len(together)):
                assert np.array_equal(together[row], alone[start + row]), (size, start + row)
    assert encoded_on and all(name.startswith("lenscribe-encode") for name in encoded_on)  # not the caller's thread
    generated = [one.generate([ids], max_new_tokens=12)[0] for ids in inputs]
    decoded_on: list[tuple[str, int]] = []
    greedy = two._greedy

    def recording_greedy(cross, mask, *args):
        decoded_on.append((threading.current_thread().name, len(mask)))
        return greedy(cross, mask, *args)

    two._greedy = recording_greedy  # type: ignore[method-assign]
    assert two.generate(inputs, max_new_tokens=12) == generated
    # the rows decoded in two groups at once, each on a thread of its own
    assert sorted(rows for _, rows in decoded_on) == [16, 16]
    assert len({name for name, _ in decoded_on}) == 2 and all(n.startswith("lenscribe-decode") for n, _ in decoded_on)


@given(st.lists(st.booleans(), min_size=1, max_size=40).filter(lambda f: not all(f)))
def test_rows_leaving_a_batch_are_the_rows_left_in_some_order(finished: list[bool]) -> None:
    """A finished row leaves the batch by having a later row moved into its place (``_fill_holes``, ``_move_rows``):
    the rows left are each unfinished row exactly once, with its own data, as the first rows of the same array."""
    from lenscribe.generation import _fill_holes, _move_rows

    done = np.array(finished)
    rows = _fill_holes(done)
    assert sorted(rows.tolist()) == np.flatnonzero(~done).tolist()
    value = np.arange(len(finished) * 6, dtype=np.float32).reshape(len(finished), 2, 3)
    expected = value[rows].copy()
    moved = _move_rows(value, rows)
    assert np.array_equal(moved, expected) and moved.flags.c_contiguous and np.shares_memory(moved, value)


def _write_functions(root: Path, n: int) -> None:
    """``n`` functions over a few files (the CLI and the server read files)."""
    codes = functions(n - 2)
    for i in range(0, len(codes), 25):
        (root / f"m{i // 25:02}.py").write_text("\n\n\n".join(codes[i : i + 25]) + "\n", encoding="utf-8")


def test_the_cli_and_the_server_write_one_summary_per_chunk_whatever_the_batch(tiny_model_dir: Path,
                                                                               tmp_path: Path, capsys) -> None:
    """200 functions alone, in batches of 3, 8 and 32, through `lenscribe summarize` and through the server's
    workspace run (Engine + summarize_paths, what lenscribe.summarizeWorkspace runs): one summary per chunk."""
    from lenscribe.cli import main
    from lenscribe.engine import Engine
    from lenscribe.settings import Settings
    from lenscribe.workspace import summarize_paths, workspace_files

    root = tmp_path / "src"
    root.mkdir()
    _write_functions(root, 200)
    runs: dict[str, dict[tuple[str, str], str]] = {}
    for size in (1, 3, 8, 32):
        assert main(["summarize", str(root), "--json", "--no-cache", "--no-grounding-check", "--model",
                     str(tiny_model_dir), "--threads", "1", "--batch-size", str(size)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["stats"]["batches"] == -(-out["stats"]["summarized"] // size)
        runs[f"cli {size}"] = {(Path(c["path"]).name, c["name"]): c["summary"] for c in out["chunks"]}
    assert len(runs["cli 1"]) == 200
    for size in (1, 3, 8, 32):
        engine = Engine(Settings(model_dir=str(tiny_model_dir), cache_dir=str(tmp_path / f"cache{size}"), workers=1,
                                 batch_size=size, prefer_docstrings=False))
        try:
            assert engine.load_model() is None
            report = summarize_paths(engine, workspace_files([root]))
            assert report.summarized == 200 and report.failed == 0
            docs = {p.name: engine.read_document(p.as_uri(), str(p)) for p in sorted(root.glob("*.py"))}
            runs[f"server {size}"] = {(name, c.qualname): engine.cached_summary(c)
                                      for name, doc in docs.items() for c in doc.chunks}
        finally:
            engine.shutdown()
    first = runs["cli 1"]
    assert len(set(first.values())) > 20  # real, different summaries
    for name, summaries in runs.items():
        diff = [(k, first[k], v) for k, v in summaries.items() if first.get(k) != v]
        assert summaries.keys() == first.keys() and not diff, (name, diff[:5])
