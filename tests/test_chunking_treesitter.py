"""lenscribe.chunking.treesitter (``chunk_text``, ``doc_of``): options (min_lines, truncation), nesting depth, docs on
demand, UTF-16 positions and CR LF, errors and robustness on broken input, and bounds on big and deep files."""

from __future__ import annotations

import dataclasses
import time

import pytest

from chunking_samples import DOCS, EXPECTED, SNIPPETS, _by_qualname, _summary
from lenscribe.chunking import (
    Chunk,
    ChunkingError,
    chunk_hash,
    chunk_text,
    doc_of,
    supported_languages,
    treesitter,
)

# ------------------------------------------------------------------------------------------------ options


def test_min_lines():
    src = SNIPPETS["python"]
    default = chunk_text(src, "python")
    assert "one_liner" not in [c.name for c in default]
    everything = chunk_text(src, "python", min_lines=1)
    assert [c.qualname for c in everything if c.qualname not in {c.qualname for c in default}] == ["one_liner"]
    big = chunk_text(src, "python", min_lines=10)
    assert [(c.qualname, c.line_count) for c in big] == [("retry", 16), ("retry.decorator", 11), ("Parser", 21)]
    assert chunk_text(src, "python", min_lines=0) == everything


def test_truncation_keeps_range_and_flags_chunk():
    full = chunk_text(SNIPPETS["java"], "java")
    cut = chunk_text(SNIPPETS["java"], "java", max_chars=120)
    assert len(full) == len(cut), "oversized chunks are never dropped"
    for f, c in zip(full, cut, strict=True):
        assert (f.start, f.end, f.qualname) == (c.start, c.end, c.qualname)
        if len(f.text) > 120:
            assert c.truncated and len(c.text) <= 120 and f.text.startswith(c.text)
            assert c.hash == chunk_hash("java", c.text) != f.hash
        else:
            assert not c.truncated and c.text == f.text and c.hash == f.hash
    assert any(c.truncated for c in cut) and not all(c.truncated for c in cut)
    with pytest.raises(ValueError):
        chunk_text("x", "python", max_chars=0)


def test_truncation_prefers_line_boundary():
    src = "def f():\n" + "".join(f"    x{i} = {i}\n" for i in range(100))
    (chunk,) = chunk_text(src, "python", max_chars=100)
    assert chunk.truncated
    assert len(chunk.text) <= 100
    assert src.startswith(chunk.text + "\n")


# ------------------------------------------------------------------------------------------------ nesting


def _depth_by_stack(chunks: list[Chunk]) -> list[int]:
    """What the server's outline computed before chunks knew their depth: a stack of enclosing ranges."""
    out, stack = [], []
    for c in chunks:
        while stack and not (stack[-1].start <= c.start and c.end <= stack[-1].end):
            stack.pop()
        out.append(len(stack))
        stack.append(c)
    return out


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_depth_counts_the_enclosing_chunks_of_the_result(language):
    for min_lines in (1, 2, 4):
        chunks = chunk_text(SNIPPETS[language], language, min_lines=min_lines)
        assert [c.depth for c in chunks] == _depth_by_stack(chunks)


def test_depth_of_python_nesting_and_a_parent_left_out():
    depths = {c.qualname: c.depth for c in chunk_text(SNIPPETS["python"], "python")}
    assert depths["retry"] == 0 and depths["retry.decorator"] == 1 and depths["retry.decorator.wrapper"] == 2
    assert depths["Parser"] == 0 and depths["Parser.parse"] == 1 and depths["Parser.Error.__init__"] == 2
    # the one-line class is below min_lines: its method is at depth 0 of the result
    src = "class A: pass\n\n\nclass B:\n    x = 1\n    def f(self):\n        return 1\n"
    assert [(c.qualname, c.depth) for c in chunk_text(src, "python")] == [("B", 0), ("B.f", 1)]
    src = "class A:\n    def f(self):\n        return 1\n"
    assert [(c.qualname, c.depth) for c in chunk_text(src, "python", min_lines=3)] == [("A", 0)]


# ------------------------------------------------------------------------------------------------ docs on demand


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_docs_only_when_asked_and_doc_of_finds_the_same(language):
    src = SNIPPETS[language]
    plain, documented = chunk_text(src, language), chunk_text(src, language, docs=True)
    assert all(c.doc is None for c in plain)
    assert [dataclasses.replace(c, doc=None) for c in documented] == plain
    assert [doc_of(src, c) for c in plain] == [c.doc for c in documented]
    assert any(c.doc for c in documented)


def test_doc_of_refuses_a_text_the_chunk_is_not_from():
    src = SNIPPETS["go"]
    chunk = _by_qualname(chunk_text(src, "go"), "Store.Get")
    assert doc_of(src, chunk) == DOCS["go"][1]
    assert doc_of("package p\n", chunk) is None
    assert doc_of(src.replace("func (s *Store) Get", "func (s *Store) Got"), chunk) is None


# ------------------------------------------------------------------------------------------------ positions


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def test_utf16_columns_with_non_ascii_text():
    prefix = 'const s = "😀é"; '
    src = prefix + 'function f() {\n  return "naïve 😀";\n}\nconst 𝒳 = () => {\n  return "ü";\n};'
    chunks = chunk_text(src, "javascript")
    assert [c.qualname for c in chunks] == ["f", "𝒳"]
    f, x = chunks
    assert f.start == (0, _utf16_len(prefix)) == (0, 17)
    assert len(prefix.encode()) == 20  # the byte column would be wrong
    assert f.end == (2, 1)
    assert f.text.startswith("function f() {") and f.text.endswith("}")
    assert x.start == (3, 0) and x.end == (5, 2)
    assert x.name == "𝒳"

    py = 'class Ünï:\n    def méthode(self): return "😀😀"  # 💥\n    def b(self):\n        return "é"\n'
    cls, b = chunk_text(py, "python", min_lines=1)[:3:2]
    meth = chunk_text(py, "python", min_lines=1)[1]
    assert cls.qualname == "Ünï" and cls.end == (3, len('        return "é"'))
    assert meth.qualname == "Ünï.méthode"
    assert meth.end == (1, _utf16_len('    def méthode(self): return "😀😀"  # 💥'))  # same-line comment included
    assert b.start == (2, 4)


def test_crlf_line_endings():
    src = SNIPPETS["csharp"].replace("\n", "\r\n")
    chunks = chunk_text(src, "csharp", docs=True)
    assert _summary(chunks) == EXPECTED["csharp"]
    assert all("\r\n" in c.text and not c.text.endswith("\r") for c in chunks)
    assert _by_qualname(chunks, "Order").doc == DOCS["csharp"][1]


# ------------------------------------------------------------------------------------------------ errors and robustness


def test_unknown_language_raises():
    with pytest.raises(ChunkingError, match="unsupported language 'cobol'"):
        chunk_text("IDENTIFICATION DIVISION.", "cobol")
    assert issubclass(ChunkingError, ValueError)


def test_binary_input_raises():
    with pytest.raises(ChunkingError, match="binary"):
        chunk_text("def f():\n    pass\n\x00\x01\x02", "python")


def test_empty_and_whitespace_input():
    for language in supported_languages():
        assert chunk_text("", language) == []
        assert chunk_text("\n\n   \n", language) == []


BROKEN = {
    "python": "def good():\n    return 1\n\ndef broken(x)\n    y = = 2\n    return x +\n\nclass Still:\n"
              "    def ok(self):\n        pass\n",
    "javascript": "function good() {\n  return 1;\n}\nfunction broken( {\n  let = ;\n}\nclass Still {\n  ok() {\n"
                  "    return 2;\n  }\n}\n",
    "java": "class A {\n  void good() {\n    run();\n  }\n  void broken( {\n    int = ;\n  }\n}\n",
    "go": "package x\n\nfunc good() {\n\treturn\n}\n\nfunc broken( {\n\tx := \n}\n",
    "rust": "fn good() {\n    ok();\n}\nfn broken( -> {\n    let = ;\n}\n",
}


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_broken_syntax_still_chunks(language):
    names = [c.qualname for c in chunk_text(BROKEN[language], language)]
    assert any(n.endswith("good") for n in names), names


def test_python_broken_syntax_keeps_later_class():
    names = [c.qualname for c in chunk_text(BROKEN["python"], "python")]
    assert "good" in names and "Still.ok" in names


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_truncated_and_mangled_sources_never_raise(language, caplog):
    src = SNIPPETS[language]
    step = max(1, len(src) // 23)
    for cut in range(0, len(src), step):
        chunk_text(src[:cut], language, min_lines=1)
        chunk_text(src[cut:], language, min_lines=1)
        chunk_text(src[:cut] + "}{)(;'\"/*" + src[cut:], language, min_lines=1)
    assert not [r for r in caplog.records if r.name.startswith("lenscribe.chunking")], "no node should be skipped"


# ------------------------------------------------------------------------------------------------ big files


def test_50k_line_file_is_fast():
    block = (
        "class C{i}:\n"
        '    """Class {i}."""\n'
        "\n"
        "    def method{i}(self, x):\n"
        "        y = x + {i}\n"
        "        return y\n"
        "\n"
        "\n"
        "def function{i}(a, b):\n"
        "    return a * b + {i}\n"
        "\n"
        "\n"
    )
    src = "".join(block.format(i=i) for i in range(50_000 // 12 + 1))
    assert src.count("\n") >= 50_000
    started = time.perf_counter()
    chunks = chunk_text(src, "python")
    elapsed = time.perf_counter() - started
    n = 50_000 // 12 + 1
    assert len(chunks) == 3 * n
    assert chunks[-1].qualname == f"function{n - 1}" and chunks[-1].end[0] == src.count("\n") - 3
    assert elapsed < 10, f"50k lines took {elapsed:.2f}s"  # ~0.5 s on the dev machine; generous for shared CI


def _nested_js(n: int) -> str:
    return "".join(f"function f{i:04d}() {{\n" for i in range(n)) + "}\n" * n


def test_deeply_nested_definitions_are_bounded():
    """5,000 nested functions (104 KB): qualnames grew with the depth squared (75 M characters) and every function
    became a chunk; now only the outer MAX_DEPTH levels are chunks, each with a bounded qualname."""
    chunks = chunk_text(_nested_js(5000), "javascript")
    assert len(chunks) == treesitter.MAX_DEPTH
    assert [c.name for c in chunks] == [f"f{i:04d}" for i in range(treesitter.MAX_DEPTH)]
    assert [c.depth for c in chunks] == list(range(treesitter.MAX_DEPTH))
    assert all(len(c.qualname) <= treesitter.MAX_QUALNAME for c in chunks)
    assert chunks[1].qualname == "f0000.f0001"
    assert chunks[-1].qualname == ".".join(f"f{i:04d}" for i in range(treesitter.MAX_DEPTH))
    # a shallow nest is untouched
    shallow = chunk_text(_nested_js(treesitter.MAX_DEPTH), "javascript")
    assert len(shallow) == treesitter.MAX_DEPTH


def test_long_names_keep_the_end_of_the_qualname():
    outer, inner = "o" * 300, "i" * 10
    code = f"class {outer}:\n    def {inner}(self):\n        return 1\n"
    by_name = {c.name: c for c in chunk_text(code, "python")}
    assert by_name[outer].qualname == "\u2026" + outer[-(treesitter.MAX_QUALNAME - 1):]
    q = by_name[inner].qualname
    assert len(q) == treesitter.MAX_QUALNAME and q.endswith(f"o.{inner}") and q.startswith("\u2026")
