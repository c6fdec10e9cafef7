"""Insert a summary as a docstring / doc comment: placed from tree-sitter's boundaries, the file still parses, and the
chunker reads the inserted text back as the chunk's doc."""

from __future__ import annotations

import pytest

from lenscribe.chunking import chunk_text
from lenscribe.chunking.treesitter import parse
from lenscribe.docstring_insert import SUPPORTED_LANGUAGES, apply_edit, breaks_parse, docstring_edit, format_doc

SUMMARY = "Return the sum of two numbers."
TWO_LINES = "Return the sum of two numbers.\nIt never overflows."


def chunk_named(text: str, language: str, qualname: str):
    found = [c for c in chunk_text(text, language, min_lines=1, docs=True) if c.qualname == qualname]
    assert len(found) == 1, [c.qualname for c in chunk_text(text, language, min_lines=1)]
    return found[0]


def insert(text: str, language: str, qualname: str, summary: str = SUMMARY) -> str:
    edit = docstring_edit(text, chunk_named(text, language, qualname), summary)
    assert edit is not None
    return apply_edit(text, edit)


def parses(text: str, language: str) -> bool:
    return not parse(text.encode("utf-8", "surrogatepass"), language).root_node.has_error


# ------------------------------------------------------------------------------------------- byte-exact, by hand

PY_DECORATED = '''import functools


class Calc:
    @functools.cache
    @staticmethod
    def add(
        a: int,
        b: int,
    ) -> int:  # typed
        return a + b
'''
PY_DECORATED_DONE = '''import functools


class Calc:
    @functools.cache
    @staticmethod
    def add(
        a: int,
        b: int,
    ) -> int:  # typed
        """Return the sum of two numbers."""
        return a + b
'''


def test_python_after_decorators_and_a_multi_line_signature():
    assert insert(PY_DECORATED, "python", "Calc.add") == PY_DECORATED_DONE


def test_python_one_line_body_moves_under_the_docstring():
    text = "class Box:\n    def get(self, a,\n            b): return self.x  # value\n"
    assert insert(text, "python", "Box.get", TWO_LINES) == (
        "class Box:\n    def get(self, a,\n            b):\n"
        '        """Return the sum of two numbers.\n\n        It never overflows.\n        """\n'
        "        return self.x  # value\n")
    assert insert("def f(): return 1\n", "python", "f") == (
        'def f():\n    """Return the sum of two numbers."""\n    return 1\n')


def test_python_tabs_crlf_and_quotes():
    text = 'def f():\r\n\tif x:\r\n\t\treturn 1\r\n'
    assert insert(text, "python", "f", 'Say "hi"') == 'def f():\r\n\t"""Say \\"hi\\\""""\r\n\tif x:\r\n\t\treturn 1\r\n'
    done = insert(text, "python", "f", 'Say "hi"')
    assert chunk_named(done, "python", "f").doc == 'Say "hi"'


TS_DECORATED = '''import { Component } from "x";

@Component({ selector: "app" })
export class Widget {
  @Input()
  render(a: number): string {
    return "x";
  }
}
'''


def test_typescript_above_export_and_decorators():
    assert insert(TS_DECORATED, "typescript", "Widget") == TS_DECORATED.replace(
        '@Component', '/** Return the sum of two numbers. */\n@Component')
    assert insert(TS_DECORATED, "typescript", "Widget.render", TWO_LINES) == TS_DECORATED.replace(
        '  @Input()', '  /**\n   * Return the sum of two numbers.\n   * It never overflows.\n   */\n  @Input()')


def test_java_above_the_annotations():
    text = ("class A {\n    @Override\n    @Deprecated\n"
            "    public String toString() {\n        return \"A\";\n    }\n}\n")
    assert insert(text, "java", "A.toString") == text.replace(
        "    @Override", "    /** Return the sum of two numbers. */\n    @Override")


def test_rust_above_the_attributes():
    text = "impl P {\n    #[inline]\n    #[must_use]\n    pub fn get(&self) -> i32 {\n        self.x\n    }\n}\n"
    assert insert(text, "rust", "P.get", TWO_LINES) == text.replace(
        "    #[inline]", "    /// Return the sum of two numbers.\n    /// It never overflows.\n    #[inline]")


def test_go_comment_starts_with_the_name():
    text = "package main\n\nfunc (s *Stack) Push(x int) {\n\ts.items = append(s.items, x)\n}\n"
    assert insert(text, "go", "Stack.Push", "Pushes x onto the stack.") == text.replace(
        "func (s", "// Push pushes x onto the stack.\nfunc (s")
    assert format_doc("go", "Push", "Push adds x.") == ["// Push adds x."]
    assert format_doc("go", "Parse", "HTTP headers are read.") == ["// Parse HTTP headers are read."]


def test_code_before_the_chunk_on_its_line():
    text = 'const s = "é😀"; function greet(name) {\n  return s + name;\n}\n'
    assert insert(text, "javascript", "greet") == (
        'const s = "é😀"; \n/** Return the sum of two numbers. */\nfunction greet(name) {\n  return s + name;\n}\n')


def test_comment_terminators_are_escaped():
    assert format_doc("c", "f", "Ends */ here") == ["/** Ends *\\/ here */"]
    assert format_doc("python", "f", 'a """ b') == ['"""a \\"\\"\\" b"""']


# ------------------------------------------------------------------------------------------- every language

CASES = {
    "python": ("@dec\ndef add(a,\n        b):\n    return a + b\n", "add"),
    "javascript": ("export default function add(a, b) {\n  return a + b;\n}\n", "add"),
    "typescript": ("export const add = (a: number, b: number): number => {\n  return a + b;\n};\n", "add"),
    "tsx": ("export function View(): JSX.Element {\n  return <div>hi</div>;\n}\n", "View"),
    "go": ("package m\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n", "Add"),
    "java": ("class M {\n    @Pure\n    static int add(int a, int b) {\n        return a + b;\n    }\n}\n", "M.add"),
    "rust": ("#[inline]\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n", "add"),
    "c": ("static int add(int a, int b) {\n    return a + b;\n}\n", "add"),
    "cpp": ("template <typename T>\nT add(T a, T b) {\n    return a + b;\n}\n", "add"),
}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("summary", [SUMMARY, TWO_LINES])
def test_each_language_still_parses_and_the_doc_reads_back(language, summary):
    text, qualname = CASES[language]
    assert parses(text, language)
    before = chunk_named(text, language, qualname)
    assert before.doc is None
    after = insert(text, language, qualname, summary)
    assert parses(after, language), after
    chunk = chunk_named(after, language, qualname)
    expected = summary.replace("\n", "\n\n") if language == "python" and "\n" in summary else summary
    if language == "go":
        expected = "Add r" + summary[1:]
    assert chunk.doc == expected
    if language != "python":  # the comment is above the chunk, outside its text
        assert chunk.text == before.text
    # a documented chunk gets no second doc
    assert docstring_edit(after, chunk, summary) is None


def test_unsupported_language_or_empty_summary():
    ruby = "def add(a, b)\n  a + b\nend\n"
    assert docstring_edit(ruby, chunk_named(ruby, "ruby", "add"), SUMMARY) is None
    text, qualname = CASES["python"]
    assert docstring_edit(text, chunk_named(text, "python", qualname), " \n ") is None


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_control_characters_never_reach_the_code(language):
    """A summary with a NUL byte (a bundle's, a cache file's) still gives a doc that parses, without the NUL."""
    text, qualname = CASES[language]
    after = insert(text, language, qualname, "Return the\x00 sum\u202e of two numbers.\x1b")
    assert "\x00" not in after and "\u202e" not in after and "\x1b" not in after
    assert parses(after, language), after
    assert chunk_named(after, language, qualname).doc.endswith("sum of two numbers.")


def test_an_edit_that_would_break_the_parse_is_refused():
    """``def f(x):\\`` with the body on the next line: a docstring line there is an IndentationError; no edit."""
    text = "def f(x):\\\n    return x\n"
    assert docstring_edit(text, chunk_named(text, "python", "f"), SUMMARY) is None
    assert breaks_parse("def f(x):\n    return x\n", "def f(x):\n  return x\n    y\n", "python")
    assert not breaks_parse("def f(:\n", "def f(:\n  x\n", "python")  # it did not parse before either


@pytest.mark.parametrize("text", ["x = 1\n\f\ndef f(x): return x\n", "\fdef g(y): return y\n\ndef f(x): return x\n",
                                  "s = 'a\x1cb'\n\ndef f(x):\n    return x\n"])
def test_line_breaks_that_tree_sitter_does_not_count_do_not_shift_the_edit(text):
    """A form feed (or \\x1c) ends a line for str.splitlines, not for tree-sitter: the edit lands in f all the same."""
    after = insert(text, "python", "f")
    assert parses(after, "python") and chunk_named(after, "python", "f").doc == SUMMARY
    import ast

    ast.parse(after)
