"""Doc comments / docstrings of chunks, first_sentence() and strip_doc()."""

from __future__ import annotations

import pytest

from lenscribe.chunking import Chunk, chunk_text, first_sentence, strip_doc
from lenscribe.chunking.docs import first_sentence as first_sentence_from_docs
from lenscribe.chunking.docs import strip_doc as strip_doc_from_docs


def _docs(src: str, language: str) -> dict[str, str | None]:
    return {c.qualname: c.doc for c in chunk_text(src, language, min_lines=1, docs=True)}


def test_helpers_are_exported_from_docs_module():
    assert first_sentence is first_sentence_from_docs and strip_doc is strip_doc_from_docs


# ------------------------------------------------------------------------------------------------ doc extraction


def test_python_docstring_forms():
    src = '''\
def a():
    """One line."""

def b():
    r"""Raw \\d stays."""

def c():
    'single quotes'

def d():
    """Multi
    line

        indented
    """

def e():
    f"not a docstring {x}"

def f():
    # a comment first is fine
    """After a comment."""

def g():
    x = 1
    """Not first."""

def h():
    "con" "cat"
'''
    assert _docs(src, "python") == {
        "a": "One line.",
        "b": "Raw \\d stays.",
        "c": "single quotes",
        "d": "Multi\nline\n\n    indented",
        "e": None,
        "f": "After a comment.",
        "g": None,
        "h": "concat",
    }


def test_python_comments_above_are_not_docs():
    assert _docs("# helper\ndef f():\n    pass\n", "python") == {"f": None}


def test_comment_must_touch_the_definition():
    src = "/** Detached. */\n\nfunction f() {\n  return 1;\n}\n/** Attached. */\nfunction g() {\n  return 2;\n}\n"
    assert _docs(src, "javascript") == {"f": None, "g": "Attached."}


def test_jsdoc_only_for_javascript():
    src = "// not jsdoc\nfunction f() {}\n/* not jsdoc either */\nfunction g() {}\n/**\n * Yes.\n */\nfunction h() {}\n"
    assert _docs(src, "javascript") == {"f": None, "g": None, "h": "Yes."}


def test_trailing_comment_of_code_is_not_a_doc():
    src = "int x = 1; /* about x */\nint f(void) {\n  return x;\n}\n"
    assert _docs(src, "c") == {"f": None}


def test_c_comment_styles():
    src = (
        "/* Plain block. */\nint a(void) { return 0; }\n"
        "/*!\n * Doxygen bang.\n */\nint b(void) { return 0; }\n"
        "/// Triple\n/// slash.\nint c(void) { return 0; }\n"
        "//! Bang line.\nint d(void) { return 0; }\n"
    )
    assert _docs(src, "c") == {"a": "Plain block.", "b": "Doxygen bang.", "c": "Triple\nslash.", "d": "Bang line."}


def test_rust_doc_comments():
    src = (
        "// plain comment\nfn a() {}\n"
        "//// four slashes\nfn b() {}\n"
        "/// Outer doc\n///   indented\nfn c() {}\n"
        "/** Block doc. */\n#[inline]\nfn d() {}\n"
    )
    assert _docs(src, "rust") == {"a": None, "b": None, "c": "Outer doc\n  indented", "d": "Block doc."}


def test_go_directives_are_dropped():
    src = "package p\n\n// Run runs.\n//go:noinline\n//nolint:errcheck\nfunc Run() {}\n"
    assert _docs(src, "go") == {"Run": "Run runs."}


def test_ruby_magic_comments_are_dropped():
    src = "# frozen_string_literal: true\n# Greets.\ndef greet\n  puts 1\nend\n"
    assert _docs(src, "ruby") == {"greet": "Greets."}


def test_javadoc_gutter_and_indentation_are_cleaned():
    src = """\
class A {
    /**
     * Adds numbers.
     *
     * <pre>
     *   a + b
     * </pre>
     * @param a first
     */
    int add(int a, int b) { return a + b; }
}
"""
    assert _docs(src, "java")["A.add"] == "Adds numbers.\n\n<pre>\n  a + b\n</pre>\n@param a first"


def test_csharp_doc_before_attributes():
    src = "class A {\n    /// <summary>Does it.</summary>\n    [Pure]\n    int M() { return 1; }\n}\n"
    assert _docs(src, "csharp")["A.M"] == "<summary>Does it.</summary>"


def test_doc_of_chunk_after_modifier_call_in_ruby():
    src = "class A\n  # Hidden.\n  private def secret\n    1\n  end\nend\n"
    assert _docs(src, "ruby")["A.secret"] == "Hidden."


# ------------------------------------------------------------------------------------------------ first_sentence


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   \n  ", ""),
        ("Return the sum. Then more.", "Return the sum."),
        ("Return the sum, e.g. 1 + 2. More text.", "Return the sum, e.g. 1 + 2."),
        ("Use version 1.5 here. Next.", "Use version 1.5 here."),
        ("Does X. Then Y.", "Does X."),
        ("No period here", "No period here"),
        ("Wraps\nacross\nlines. Second.", "Wraps across lines."),
        ("First paragraph without stop\n\nSecond paragraph.", "First paragraph without stop"),
        ("Is it? Yes.", "Is it?"),
        # tags and sections
        ("Compute stuff.\n\n:param x: the x\n:returns: y", "Compute stuff."),
        ("Compute stuff\n:param x: the x", "Compute stuff"),
        ("Compute stuff\nArgs:\n    x: the x", "Compute stuff"),
        ("Summary line\nParameters\n----------\nx : int", "Summary line"),
        ("Loads it\n@param {string} path\n@returns {Promise}", "Loads it"),
        ("@brief Does X. Then Y.\n@param a", "Does X."),
        ("\\brief Brief doxygen.\n\\param x", "Brief doxygen."),
        ("Parse the [`Config`] from *disk*.\n\n# Examples\n```\nlet x = 1;\n```", "Parse the Config from disk."),
        ("Squares it\n>>> sq(2)\n4", "Squares it"),
        # markup
        ("Frobnicate the :class:`~pkg.mod.Widget` using ``x``.", "Frobnicate the Widget using x."),
        ("See :func:`run <pkg.run>` and :meth:`Foo.bar`.", "See run and Foo.bar."),
        ("Creates a {@link Foo#bar bar thing} with <b>bold</b> &amp; more", "Creates a bar thing with bold & more"),
        ("Returns {@code null} for {@link java.util.List}.", "Returns null for java.util.List."),
        ("<summary>\nGets the <see cref=\"T:System.String\"/> value.\n</summary>\n<param name=\"x\">X</param>",
         "Gets the System.String value."),
        ("<summary>Uses <paramref name=\"count\"/> items. More.</summary>", "Uses count items."),
        ("Reads a [file](https://example.org/f) with `open()` and **care**.", "Reads a file with open() and care."),
        ("Keeps snake_case_names and a*b intact.", "Keeps snake_case_names and a*b intact."),
    ],
)
def test_first_sentence(doc, expected):
    assert first_sentence(doc) == expected


# ------------------------------------------------------------------------------------------------ strip_doc

PY = '''\
class Shape:
    """A shape.

    More about shapes.
    """

    @property
    def area(self):
        """The area."""
        return 0

    def abstract(self):
        """Subclasses implement this."""

    def inline(self): """Doc."""; return 2

    def undocumented(self):
        return 3


def helper(x):
    # no docstring, just a comment
    return x
'''


def _chunk(qualname: str) -> Chunk:
    return next(c for c in chunk_text(PY, "python", min_lines=1, docs=True) if c.qualname == qualname)


def test_strip_doc_class_keeps_nested_docstrings():
    assert strip_doc(_chunk("Shape")) == '''\
class Shape:
    @property
    def area(self):
        """The area."""
        return 0

    def abstract(self):
        """Subclasses implement this."""

    def inline(self): """Doc."""; return 2

    def undocumented(self):
        return 3'''


def test_strip_doc_decorated_method():
    assert strip_doc(_chunk("Shape.area")) == "@property\n    def area(self):\n        return 0"


def test_strip_doc_docstring_only_body_becomes_pass():
    assert strip_doc(_chunk("Shape.abstract")) == "def abstract(self):\n        pass"


def test_strip_doc_same_line_docstring():
    assert strip_doc(_chunk("Shape.inline")) == "def inline(self): return 2"


def test_strip_doc_without_docstring_is_identity():
    for name in ("Shape.undocumented", "helper"):
        c = _chunk(name)
        assert c.doc is None and strip_doc(c) == c.text


def test_strip_doc_tab_indented_method():
    src = "class A:\n\t@staticmethod\n\tdef m():\n\t\t'''Doc.'''\n\t\treturn 1\n"
    m = next(c for c in chunk_text(src, "python", docs=True) if c.qualname == "A.m")
    assert strip_doc(m) == "@staticmethod\n\tdef m():\n\t\treturn 1"


@pytest.mark.parametrize(
    ("language", "src"),
    [
        ("java", "class A {\n  /** Doc. */\n  int f() {\n    return 1;\n  }\n}\n"),
        ("rust", "/// Doc.\nfn f() {\n    1;\n}\n"),
        ("go", "package p\n\n// F does.\nfunc F() {\n}\n"),
    ],
)
def test_strip_doc_other_languages_return_text(language, src):
    chunks = chunk_text(src, language, docs=True)
    documented = [c for c in chunks if c.doc]
    assert documented
    for c in documented:
        assert strip_doc(c) == c.text
        assert "Doc" not in c.text and "does" not in c.text
