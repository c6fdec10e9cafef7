"""lenscribe.chunking.base: the chunk's hash (sha256 of language and text, stable, local to an edit, blind to depth
and docs) and the frozen, hashable Chunk record."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from chunking_samples import SNIPPETS
from lenscribe.chunking import (
    Chunk,
    chunk_hash,
    chunk_text,
)

# ------------------------------------------------------------------------------------------------ hashes


def test_hash_is_sha256_of_language_and_text():
    (c, *_) = chunk_text(SNIPPETS["go"], "go")
    assert c.hash == hashlib.sha256(("go\0" + c.text).encode()).hexdigest()
    # same text in another language: another hash
    assert chunk_hash("c", c.text) != c.hash


def test_hash_stable_and_local_to_the_changed_chunk():
    src = SNIPPETS["python"]
    before = {c.qualname: c.hash for c in chunk_text(src, "python")}
    assert before == {c.qualname: c.hash for c in chunk_text(src, "python")}

    # change only Parser.parse's body: Parser.parse and its enclosing class change, nothing else
    edited = src.replace("return self._expr()", "return self._expr(strict=True)")
    after = {c.qualname: c.hash for c in chunk_text(edited, "python")}
    changed = {q for q in before if before[q] != after[q]}
    assert changed == {"Parser", "Parser.parse"}

    # insert lines above everything: positions move, hashes do not
    shifted = chunk_text("import os\n\n\n" + src, "python")
    assert {c.qualname: c.hash for c in shifted} == before
    assert shifted[0].start[0] == chunk_text(src, "python")[0].start[0] + 3


def test_hash_is_of_language_and_text_only_not_of_depth_or_docs():
    # the cache key: sha256 of language and text, whatever the depth or the docs
    (f,) = chunk_text("def f(a):\n    return a\n", "python")
    assert f.depth == 0 and f.hash == hashlib.sha256(b"python\0def f(a):\n    return a").hexdigest()
    js = "class A {\n  f(a) {\n    return a;\n  }\n}\nconst o = {\n  f(a) {\n    return a;\n  },\n};\n"
    method, member = (c for c in chunk_text(js, "javascript") if c.name == "f")
    assert (method.depth, member.depth) == (1, 0) and method.text == member.text and method.hash == member.hash
    for language, text in SNIPPETS.items():
        plain, documented = chunk_text(text, language), chunk_text(text, language, docs=True)
        assert [(c.hash, c.depth) for c in plain] == [(c.hash, c.depth) for c in documented]
        assert all(c.hash == chunk_hash(language, c.text) for c in plain)


# ------------------------------------------------------------------------------------------------ the Chunk record


def test_chunk_is_frozen_and_hashable():
    c = chunk_text(SNIPPETS["ruby"], "ruby")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.name = "x"  # type: ignore[misc]
    assert {c: 1}[c] == 1
    assert [f.name for f in dataclasses.fields(Chunk)] == [
        "kind", "name", "qualname", "language", "start", "end", "text", "hash", "doc", "truncated", "depth"
    ]
