"""Languages whose grammar wheel is optional (not pinned in pyproject): tested when the wheel is installed."""

from __future__ import annotations

import importlib.util

import pytest

from lenscribe.chunking import ChunkingError, chunk_text, language_for_path, supported_languages
from lenscribe.chunking.languages import LANGUAGES, OPTIONAL_PINS

SNIPPETS = {
    "kotlin": (
        "tree_sitter_kotlin",
        "Main.kt",
        """\
package app

/** A user of the system. */
@Serializable
class User(val name: String) {
    fun greet(): String {
        return "hi $name"
    }

    companion object {
        fun guest(): User {
            return User("guest")
        }
    }
}

fun String.shout(): String {
    return uppercase()
}
""",
        [
            ("class", "User", 3, 14),
            ("method", "User.greet", 5, 7),
            ("method", "User.guest", 10, 12),
            ("method", "String.shout", 16, 18),
        ],
        ("User", "A user of the system."),
    ),
    "scala": (
        "tree_sitter_scala",
        "Main.scala",
        """\
/** Stacks things. */
class Stack[A] {
  def push(a: A): Unit = {
    items = a :: items
  }
}

object Stack {
  def empty[A]: Stack[A] =
    new Stack[A]
}
""",
        [
            ("class", "Stack", 1, 5),
            ("method", "Stack.push", 2, 4),
            ("class", "Stack", 7, 10),
            ("method", "Stack.empty", 8, 9),
        ],
        ("Stack", "Stacks things."),
    ),
    "lua": (
        "tree_sitter_lua",
        "init.lua",
        """\
local M = {}

--- Adds two numbers.
-- @param a number
function M.add(a, b)
  return a + b
end

function M:reset()
  self.count = 0
end

local function helper(x)
  return x * 2
end

return M
""",
        [
            ("function", "M.add", 4, 6),
            ("method", "M.reset", 8, 10),
            ("function", "helper", 12, 14),
        ],
        ("M.add", "Adds two numbers.\n@param a number"),
    ),
    "swift": (
        "tree_sitter_swift",
        "Counter.swift",
        """\
/// Counts things.
struct Counter {
    var count = 0

    init(start: Int) {
        count = start
    }

    mutating func increment() {
        count += 1
    }
}
""",
        [
            ("class", "Counter", 1, 11),
            ("method", "Counter.init", 4, 6),
            ("method", "Counter.increment", 8, 10),
        ],
        ("Counter", "Counts things."),
    ),
    "bash": (
        "tree_sitter_bash",
        "deploy.sh",
        """\
#!/bin/bash
# Prints usage.
usage() {
  echo "usage: deploy ENV"
}

function main {
  usage
}
""",
        [("function", "usage", 2, 4), ("function", "main", 6, 8)],
        ("usage", "Prints usage."),
    ),
}


def test_every_optional_language_has_a_pin_and_a_test():
    assert set(OPTIONAL_PINS) == set(SNIPPETS)
    for language, pin in OPTIONAL_PINS.items():
        assert pin.startswith(f"tree-sitter-{language}==")


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_optional_language(language):
    module, path, src, expected, (qualname, doc) = SNIPPETS[language]
    if importlib.util.find_spec(module) is None:
        assert language not in supported_languages()
        assert language_for_path(path) is None
        with pytest.raises(ChunkingError, match="pip install tree-sitter-"):
            chunk_text(src, language)
        pytest.skip(f"{OPTIONAL_PINS[language]} not installed")
    assert language in supported_languages()
    assert language_for_path(path) == language
    chunks = chunk_text(src, language, docs=True)
    assert [(c.kind, c.qualname, c.start[0], c.end[0]) for c in chunks] == expected
    assert next(c for c in chunks if c.qualname == qualname).doc == doc


def test_core_languages_are_not_optional():
    core = ("python", "javascript", "typescript", "tsx", "go", "java", "rust", "c", "cpp", "csharp", "ruby", "php")
    assert supported_languages()[: len(core)] == core
    assert all(LANGUAGES[lang].optional is None for lang in core)


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_optional_language_mangled_sources_never_raise(language):
    module, _path, src, _expected, _doc = SNIPPETS[language]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{OPTIONAL_PINS[language]} not installed")
    for cut in range(0, len(src), max(1, len(src) // 17)):
        chunk_text(src[:cut], language, min_lines=1)
        chunk_text(src[:cut] + "}{)(;'\"/*" + src[cut:], language, min_lines=1)
