"""lenscribe.chunking.languages: every language's definitions, names, kinds, docs and first lines on the samples of
tests/chunking_samples.py, the details of each language's naming rules, and the language of a path or shebang."""

from __future__ import annotations

import pytest

from chunking_samples import DOCS, EXPECTED, FIRST_LINES, SNIPPETS, _by_qualname, _summary
from lenscribe.chunking import (
    chunk_hash,
    chunk_text,
    language_for_path,
    supported_languages,
)

# ------------------------------------------------------------------------------------------------ languages


def test_every_required_language_is_supported():
    required = {"python", "javascript", "typescript", "tsx", "go", "java", "rust", "c", "cpp", "csharp", "ruby", "php"}
    assert required <= set(supported_languages())
    assert set(SNIPPETS) == set(EXPECTED) == set(DOCS) == required


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_language_chunks(language):
    chunks = chunk_text(SNIPPETS[language], language)
    assert _summary(chunks) == EXPECTED[language]
    for c in chunks:
        assert c.language == language
        assert c.kind in ("function", "method", "class")
        assert c.qualname.endswith(c.name)
        assert not c.truncated
        assert c.text == c.text.strip()
        assert c.hash == chunk_hash(language, c.text)


@pytest.mark.parametrize("language", sorted(DOCS))
def test_language_doc(language):
    chunks = chunk_text(SNIPPETS[language], language, docs=True)
    qualname, doc = DOCS[language]
    assert _by_qualname(chunks, qualname).doc == doc


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_text_matches_positions(language):
    """text is exactly the source between start and end (all snippets are ASCII, so columns are offsets)."""
    lines = SNIPPETS[language].split("\n")
    for c in chunk_text(SNIPPETS[language], language):
        (sl, sc), (el, ec) = c.start, c.end
        if sl == el:
            expected = lines[sl][sc:ec]
        else:
            expected = "\n".join([lines[sl][sc:], *lines[sl + 1 : el], lines[el][:ec]])
        assert c.text == expected, c.qualname
        assert not c.text.lstrip().startswith(("/**", "///", "// ", "# ")), "leading doc comments stay outside text"


@pytest.mark.parametrize(("language", "qualname"), sorted(FIRST_LINES))
def test_decorators_attributes_and_wrappers_are_included(language, qualname):
    chunk = _by_qualname(chunk_text(SNIPPETS[language], language), qualname)
    assert chunk.text.split("\n", 1)[0].strip() == FIRST_LINES[(language, qualname)]


def test_docs_of_undocumented_chunks_are_none():
    chunks = chunk_text(SNIPPETS["c"], "c", docs=True)
    assert _by_qualname(chunks, "node").doc is None  # blank line between comment and struct
    assert _by_qualname(chunks, "free_list").doc is None
    py = chunk_text(SNIPPETS["python"], "python", docs=True)
    assert _by_qualname(py, "retry.decorator").doc is None


# ------------------------------------------------------------------------------------------------ details per language

def test_python_nested_and_decorated():
    src = '''\
class Outer:
    class Inner:
        def method(self):
            def helper():
                return 1
            return helper()

    @property
    @cached
    def value(self):
        return 2


def top():
    class Local:
        def m(self):
            pass
    return Local
'''
    chunks = chunk_text(src, "python")
    assert _summary(chunks) == [
        ("class", "Outer", 0, 10),
        ("class", "Outer.Inner", 1, 5),
        ("method", "Outer.Inner.method", 2, 5),
        ("function", "Outer.Inner.method.helper", 3, 4),
        ("method", "Outer.value", 7, 10),
        ("function", "top", 13, 17),
        ("class", "top.Local", 14, 16),
        ("method", "top.Local.m", 15, 16),
    ]
    value = _by_qualname(chunks, "Outer.value")
    assert value.start == (7, 4)
    assert value.text.startswith("@property\n    @cached\n    def value(self):")


def test_javascript_function_forms():
    src = """\
function plain(a) {
  return a;
}
const arrow = async (x) => {
  return x;
};
var expr = function named() {
  return 1;
};
const obj = {
  method() {
    return 1;
  },
  prop: () => {
    return 2;
  },
};
Widget.prototype.render = function () {
  return this.el;
};
function* gen() {
  yield 1;
}
export default () => {
  return 0;
};
"""
    assert _summary(chunk_text(src, "javascript")) == [
        ("function", "plain", 0, 2),
        ("function", "arrow", 3, 5),
        ("function", "expr", 6, 8),
        ("function", "method", 10, 12),
        ("function", "prop", 13, 15),
        ("method", "Widget.render", 17, 19),
        ("function", "gen", 20, 22),
        ("function", "default", 23, 25),
    ]


def test_go_generic_receiver_and_grouped_types():
    src = """\
package list

type (
	List[T any] struct {
		items []T
	}
	ID int
)

func (l *List[T]) Push(v T) {
	l.items = append(l.items, v)
}
"""
    assert _summary(chunk_text(src, "go")) == [("class", "List", 3, 5), ("method", "List.Push", 9, 11)]


def test_cpp_out_of_line_definitions():
    src = """\
Widget::Widget(int w)
    : w_(w) {}

Widget::~Widget() {
    release();
}

int& Widget::at(int i) {
    return data_[i];
}

Widget::operator bool() const {
    return w_ > 0;
}

namespace ui {
int helper(int x) {
    return x + 1;
}
}
"""
    chunks = chunk_text(src, "cpp")
    assert _summary(chunks) == [
        ("method", "Widget.Widget", 0, 1),
        ("method", "Widget.~Widget", 3, 5),
        ("method", "Widget.at", 7, 9),
        ("method", "Widget.operator bool", 11, 13),
        ("function", "helper", 16, 18),
    ]
    assert [c.name for c in chunks][:2] == ["Widget", "~Widget"]


def test_rust_trait_impl_for_generic_type():
    src = """\
impl<T: Clone> From<Vec<T>> for Stack<T> {
    fn from(items: Vec<T>) -> Self {
        Stack { items }
    }
}
"""
    assert _summary(chunk_text(src, "rust")) == [("class", "Stack", 0, 4), ("method", "Stack.from", 1, 3)]


def test_ruby_top_level_def_is_function_and_class_methods_are_methods():
    chunks = chunk_text(SNIPPETS["ruby"], "ruby")
    assert _by_qualname(chunks, "helper").kind == "function"
    assert _by_qualname(chunks, "Serializer.Writer.open").name == "open"


# ------------------------------------------------------------------------------------------------ paths


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a/b/main.py", "python"),
        ("stubs/x.pyi", "python"),
        ("app.js", "javascript"),
        ("lib.mjs", "javascript"),
        ("comp.jsx", "javascript"),
        ("index.ts", "typescript"),
        ("types.d.ts", "typescript"),
        ("View.tsx", "tsx"),
        ("main.go", "go"),
        ("Main.java", "java"),
        ("lib.rs", "rust"),
        ("x.c", "c"),
        ("x.h", "c"),
        ("x.cpp", "cpp"),
        ("x.hpp", "cpp"),
        ("x.cc", "cpp"),
        ("X.C", "cpp"),
        ("Program.cs", "csharp"),
        ("app.rb", "ruby"),
        ("Rakefile", "ruby"),
        ("Gemfile", "ruby"),
        ("index.php", "php"),
        ("MAIN.PY", "python"),
        ("README.md", None),
        ("Makefile", None),
        ("noext", None),
    ],
)
def test_language_for_path(path, language):
    assert language_for_path(path) == language


def test_language_for_path_shebang(tmp_path):
    assert language_for_path("bin/tool", first_line="#!/usr/bin/env python3") == "python"
    assert language_for_path("bin/tool", first_line="#!/usr/bin/python3.11") == "python"
    assert language_for_path("bin/tool", first_line="#!/usr/bin/env -S node --no-warnings") == "javascript"
    assert language_for_path("bin/tool", first_line="#!/usr/bin/ruby -w") == "ruby"
    assert language_for_path("bin/tool", first_line="#!/usr/bin/awk -f") is None
    assert language_for_path("bin/tool", first_line="print('x')") is None
    script = tmp_path / "deploy"
    script.write_text("#!/usr/bin/env ruby\nputs 1\n")
    assert language_for_path(script) == "ruby"
    assert language_for_path(tmp_path / "missing") is None
    assert language_for_path(tmp_path) is None
