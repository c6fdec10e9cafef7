"""Chunker tests: every language's definitions, positions, docs, filters, hashing, robustness and speed."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lenscribe.chunking import (
    Chunk,
    ChunkingError,
    chunk_hash,
    chunk_text,
    doc_of,
    language_for_path,
    supported_languages,
    treesitter,
)

SNIPPETS = {
    'python': '''\
"""Module doc."""
import functools


def retry(times):
    """Retry a function a number of times."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for _ in range(times):
                try:
                    return fn(*args, **kwargs)
                except OSError:
                    pass
            return fn(*args, **kwargs)

        return wrapper

    return decorator


@dataclass
class Parser:
    """Parses tokens into a tree.

    Longer description.
    """

    source: str

    def parse(self):
        """Parse the whole source."""
        return self._expr()

    @staticmethod
    async def fetch(url: str) -> bytes:
        async with session.get(url) as r:
            return await r.read()

    class Error(Exception):
        def __init__(self, msg):
            super().__init__(msg)


def one_liner(): return 1
''',
    'javascript': """\
import { readFile } from "fs";

/**
 * Loads the config file.
 * @param {string} path
 */
export async function loadConfig(path) {
  const raw = await readFile(path, "utf8");
  return JSON.parse(raw);
}

export const debounce = (fn, ms) => {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
};

class Cache extends Map {
  constructor(limit) {
    super();
    this.limit = limit;
  }

  get(key) {
    return super.get(key);
  }

  evict = () => {
    this.delete(this.keys().next().value);
  };
}

module.exports.handler = function (event) {
  return event.body;
};

export default function () {
  return new Cache(10);
}
""",
    'typescript': """\
export interface Shape {
  area(): number;
}

export enum Color {
  Red,
  Green,
}

/** A circle. */
export class Circle implements Shape {
  constructor(private readonly r: number) {}

  area(): number {
    return Math.PI * this.r ** 2;
  }

  @memoize
  get diameter(): number {
    return 2 * this.r;
  }
}

export type Point = {
  x: number;
  y: number;
};

export function isShape(x: unknown): x is Shape {
  return typeof x === "object" && x !== null && "area" in x;
}

namespace Geometry {
  export const unit = (): Circle =>
    new Circle(1);
}
""",
    'tsx': """\
import React from "react";

type Props = { name: string };

export const Greeting = ({ name }: Props) => {
  return <h1>Hello, {name}</h1>;
};

/** The root component. */
export default function App(): JSX.Element {
  const [n, setN] = React.useState(0);
  return (
    <div onClick={() => setN(n + 1)}>
      <Greeting name={"x" + n} />
    </div>
  );
}

class Counter extends React.Component<Props> {
  render() {
    return <span>{this.props.name}</span>;
  }
}
""",
    'go': """\
package store

import "sync"

// Store is a concurrency-safe key/value store.
type Store struct {
	mu   sync.Mutex
	data map[string]string
}

// Reader reads values.
type Reader interface {
	Get(key string) (string, bool)
}

// New returns an empty store.
func New() *Store {
	return &Store{data: map[string]string{}}
}

// Get returns the value for key.
//
//go:noinline
func (s *Store) Get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	return v, ok
}

func (s Store) Len() int {
	count := func() int {
		return len(s.data)
	}
	return count()
}
""",
    'java': """\
package com.example;

import java.util.List;

/**
 * A simple repository of users.
 */
@Repository
public class UserRepository {
    private final List<User> users;

    public UserRepository(List<User> users) {
        this.users = users;
    }

    /** Finds a user by {@code id}. */
    @Override
    public User findById(long id) {
        return users.stream().filter(u -> u.id() == id).findFirst().orElse(null);
    }

    public record User(long id, String name) {
        public User {
            Objects.requireNonNull(name);
        }
    }

    interface Listener {
        void onChange(User u);
    }
}
""",
    'rust': """\
use std::fmt;

/// A 2D point.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    /// Creates a point.
    pub fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    pub fn norm(&self) -> f64 {
        fn square(v: f64) -> f64 {
            v * v
        }
        (square(self.x) + square(self.y)).sqrt()
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

pub trait Shape {
    fn area(&self) -> f64;
    fn describe(&self) -> String {
        format!("area {}", self.area())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin() {
        assert_eq!(super::Point::new(0.0, 0.0).norm(), 0.0);
    }
}
""",
    'c': """\
#include <stdlib.h>

/**
 * A growable array of ints.
 */
typedef struct {
    int *items;
    size_t len;
} IntVec;

struct node {
    int value;
    struct node *next;
};

// Appends value to v.
// Returns 0 on success.
int intvec_push(IntVec *v, int value)
{
    int *p = realloc(v->items, (v->len + 1) * sizeof *p);
    if (!p) return -1;
    v->items = p;
    v->items[v->len++] = value;
    return 0;
}

static void free_list(struct node *head) {
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
}
""",
    'cpp': """\
#include <string>

namespace geo {

/// An axis-aligned box.
template <typename T>
class Box {
public:
    Box(T w, T h) : w_(w), h_(h) {}

    T area() const {
        return w_ * h_;
    }

    bool operator==(const Box& o) const;

private:
    T w_, h_;
};

}  // namespace geo

template <typename T>
bool geo::Box<T>::operator==(const Box& o) const {
    return w_ == o.w_ && h_ == o.h_;
}

std::string Shape::describe() const {
    auto fmt = [](double a) {
        return std::to_string(a);
    };
    return "area " + fmt(area());
}
""",
    'csharp': """\
using System;

namespace Shop.Orders
{
    /// <summary>
    /// An order placed by a customer.
    /// </summary>
    [Serializable]
    public class Order
    {
        public decimal Total { get; private set; }

        public Order(decimal total)
        {
            Total = total;
        }

        /// <summary>Applies a discount.</summary>
        [Obsolete("use Discount")]
        public void Apply(decimal pct)
        {
            decimal Clamp(decimal v)
            {
                return Math.Max(0, v);
            }
            Total = Clamp(Total * (1 - pct));
        }

        public static Order operator +(Order a, Order b)
        {
            return new Order(a.Total + b.Total);
        }
    }

    public interface IRepository
    {
        Order Find(int id);
    }
}
""",
    'ruby': """\
require "json"

# Serializes records to JSON.
module Serializer
  # A JSON writer.
  class Writer < Base
    def initialize(io)
      @io = io
    end

    # Writes one record.
    def write(record)
      @io.puts(JSON.generate(record))
    end

    def self.open(path)
      new(File.open(path, "w"))
    end

    class << self
      def default
        new($stdout)
      end
    end
  end
end

def helper(x)
  x * 2
end
""",
    'php': """\
<?php

namespace App\\Http;

/**
 * Handles user requests.
 */
#[Controller]
final class UserController extends Controller
{
    public function __construct(private UserService $users)
    {
    }

    /**
     * Shows one user.
     *
     * @param int $id
     */
    public function show(int $id): array
    {
        return $this->users->find($id);
    }
}

interface Repository
{
    public function find(int $id): array;
}

function format_name(string $first, string $last): string
{
    $join = function ($a, $b) {
        return "$a $b";
    };
    return $join($first, $last);
}
""",
}

# (kind, qualname, start line, end line) with the default min_lines=2
EXPECTED = {
    "python": [
        ("function", "retry", 4, 19),
        ("function", "retry.decorator", 7, 17),
        ("function", "retry.decorator.wrapper", 8, 15),
        ("class", "Parser", 22, 42),
        ("method", "Parser.parse", 31, 33),
        ("method", "Parser.fetch", 35, 38),
        ("class", "Parser.Error", 40, 42),
        ("method", "Parser.Error.__init__", 41, 42),
    ],
    "javascript": [
        ("function", "loadConfig", 6, 9),
        ("function", "debounce", 11, 17),
        ("class", "Cache", 19, 32),
        ("method", "Cache.constructor", 20, 23),
        ("method", "Cache.get", 25, 27),
        ("method", "Cache.evict", 29, 31),
        ("function", "handler", 34, 36),
        ("function", "default", 38, 40),
    ],
    "typescript": [
        ("class", "Shape", 0, 2),
        ("class", "Color", 4, 7),
        ("class", "Circle", 10, 21),
        ("method", "Circle.area", 13, 15),
        ("method", "Circle.diameter", 17, 20),
        ("class", "Point", 23, 26),
        ("function", "isShape", 28, 30),
        ("function", "unit", 33, 34),
    ],
    "tsx": [
        ("function", "Greeting", 4, 6),
        ("function", "App", 9, 16),
        ("class", "Counter", 18, 22),
        ("method", "Counter.render", 19, 21),
    ],
    "go": [
        ("class", "Store", 5, 8),
        ("class", "Reader", 11, 13),
        ("function", "New", 16, 18),
        ("method", "Store.Get", 23, 28),
        ("method", "Store.Len", 30, 35),
        ("function", "Store.Len.count", 31, 33),
    ],
    "java": [
        ("class", "UserRepository", 7, 30),
        ("method", "UserRepository.UserRepository", 11, 13),
        ("method", "UserRepository.findById", 16, 19),
        ("class", "UserRepository.User", 21, 25),
        ("method", "UserRepository.User.User", 22, 24),
        ("class", "UserRepository.Listener", 27, 29),
    ],
    "rust": [
        ("class", "Point", 3, 7),
        ("class", "Point", 9, 21),
        ("method", "Point.new", 11, 13),
        ("method", "Point.norm", 15, 20),
        ("function", "Point.norm.square", 16, 18),
        ("class", "Point", 23, 27),
        ("method", "Point.fmt", 24, 26),
        ("class", "Shape", 29, 34),
        ("method", "Shape.describe", 31, 33),
        ("function", "origin", 38, 41),
    ],
    "c": [
        ("class", "IntVec", 5, 8),
        ("class", "node", 10, 13),
        ("function", "intvec_push", 17, 24),
        ("function", "free_list", 26, 32),
    ],
    "cpp": [
        ("class", "Box", 5, 18),
        ("method", "Box.area", 10, 12),
        ("method", "geo.Box.operator==", 22, 25),
        ("method", "Shape.describe", 27, 32),
        ("function", "Shape.describe.fmt", 28, 30),
    ],
    "csharp": [
        ("class", "Order", 7, 32),
        ("method", "Order.Order", 12, 15),
        ("method", "Order.Apply", 18, 26),
        ("function", "Order.Apply.Clamp", 21, 24),
        ("method", "Order.operator+", 28, 31),
        ("class", "IRepository", 34, 37),
    ],
    "ruby": [
        ("class", "Serializer", 3, 25),
        ("class", "Serializer.Writer", 5, 24),
        ("method", "Serializer.Writer.initialize", 6, 8),
        ("method", "Serializer.Writer.write", 11, 13),
        ("method", "Serializer.Writer.open", 15, 17),
        ("method", "Serializer.Writer.default", 20, 22),
        ("function", "helper", 27, 29),
    ],
    "php": [
        ("class", "UserController", 7, 23),
        ("method", "UserController.__construct", 10, 12),
        ("method", "UserController.show", 19, 22),
        ("class", "Repository", 25, 28),
        ("function", "format_name", 30, 36),
        ("function", "format_name.$join", 32, 34),
    ],
}

# one documented chunk per language: qualname -> cleaned doc
DOCS = {
    "python": ("Parser", "Parses tokens into a tree.\n\nLonger description."),
    "javascript": ("loadConfig", "Loads the config file.\n@param {string} path"),
    "typescript": ("Circle", "A circle."),
    "tsx": ("App", "The root component."),
    "go": ("Store.Get", "Get returns the value for key."),  # `//go:noinline` directive dropped
    "java": ("UserRepository.findById", "Finds a user by {@code id}."),
    "rust": ("Point.new", "Creates a point."),
    "c": ("intvec_push", "Appends value to v.\nReturns 0 on success."),
    "cpp": ("Box", "An axis-aligned box."),
    "csharp": ("Order", "<summary>\nAn order placed by a customer.\n</summary>"),
    "ruby": ("Serializer.Writer.write", "Writes one record."),
    "php": ("UserController.show", "Shows one user.\n\n@param int $id"),
}

# the first line of the chunk's text (decorators / attributes / export / template included)
FIRST_LINES = {
    ("python", "Parser"): "@dataclass",
    ("python", "Parser.fetch"): "@staticmethod",
    ("javascript", "loadConfig"): "export async function loadConfig(path) {",
    ("typescript", "Circle.diameter"): "@memoize",
    ("tsx", "App"): "export default function App(): JSX.Element {",
    ("java", "UserRepository"): "@Repository",
    ("java", "UserRepository.findById"): "@Override",
    ("rust", "Point"): "#[derive(Debug, Clone)]",
    ("rust", "origin"): "#[test]",
    ("c", "IntVec"): "typedef struct {",
    ("cpp", "Box"): "template <typename T>",
    ("csharp", "Order"): "[Serializable]",
    ("csharp", "Order.Apply"): '[Obsolete("use Discount")]',
    ("php", "UserController"): "#[Controller]",
}


def _summary(chunks: list[Chunk]) -> list[tuple[str, str, int, int]]:
    return [(c.kind, c.qualname, c.start[0], c.end[0]) for c in chunks]


def _by_qualname(chunks: list[Chunk], qualname: str) -> Chunk:
    found = [c for c in chunks if c.qualname == qualname]
    assert found, f"no chunk {qualname!r} in {[c.qualname for c in chunks]}"
    return found[0]


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


# ------------------------------------------------------------------------------------------------ the Chunk record


def test_chunk_is_frozen_and_hashable():
    c = chunk_text(SNIPPETS["ruby"], "ruby")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.name = "x"  # type: ignore[misc]
    assert {c: 1}[c] == 1
    assert [f.name for f in dataclasses.fields(Chunk)] == [
        "kind", "name", "qualname", "language", "start", "end", "text", "hash", "doc", "truncated", "depth"
    ]


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


# ------------------------------------------------------------------------------------------------ threads


def test_parsers_are_per_thread():
    mine = treesitter.get_parser("python")
    assert treesitter.get_parser("python") is mine
    other = []
    t = threading.Thread(target=lambda: other.append(treesitter.get_parser("python")))
    t.start()
    t.join()
    assert other[0] is not mine


def test_concurrent_use_gives_the_same_results():
    jobs = [(SNIPPETS[lang], lang) for lang in sorted(SNIPPETS)] * 4
    expected = [_summary(chunk_text(src, lang)) for src, lang in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda job: _summary(chunk_text(*job)), jobs))
    assert got == expected


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


def _big(language: str, size: int) -> str:
    snippet = SNIPPETS[language]
    return "\n".join([snippet] * (size // len(snippet) + 1))


@pytest.mark.parametrize("language", ["python", "javascript", "rust", "go", "cpp"])
def test_a_deadline_streams_the_parse_and_slices_the_query_without_changing_the_chunks(language, monkeypatch):
    from lenscribe.chunking import parsers

    text = _big(language, 40_000)
    plain = chunk_text(text, language, docs=True)
    monkeypatch.setattr(parsers, "STREAM_BYTES", 1000)  # the streamed parse and the sliced query on a small text
    monkeypatch.setattr(treesitter, "QUERY_SLICE", 777)
    assert chunk_text(text, language, docs=True, timeout=600) == plain
    assert len(plain) > 100


def test_chunking_past_its_timeout_raises_and_leaves_the_parser_usable():
    from lenscribe.chunking import ChunkingTimeout

    text = _big("javascript", 600_000)  # over parsers.STREAM_BYTES: the parse itself stops
    with pytest.raises(ChunkingTimeout, match="chunking took over 0s"):
        chunk_text(text, "javascript", timeout=0)
    small = SNIPPETS["javascript"]
    assert chunk_text(small, "javascript", timeout=600) == chunk_text(small, "javascript")  # the parser was reset


def test_a_long_parse_lets_other_threads_run():
    """tree-sitter holds the GIL while it parses: 20 MB of minified JS stopped the server's event loop for 36 s.
    With a deadline a large text is parsed through the progress callback, which lets other threads run."""
    from lenscribe.chunking import parsers

    data = _big("javascript", 3_000_000).encode()
    ticks: list[int] = []
    parsing = threading.Event()
    done = threading.Event()

    def tick() -> None:
        parsing.wait()
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        parsing.set()
        time.sleep(0.01)
        before = len(ticks)
        tree = parsers.parse(data, "javascript", deadline=time.monotonic() + 600)
        during = len(ticks) - before
    finally:
        done.set()
        t.join()
    assert tree.root_node.end_byte == len(data)
    assert during >= 10, during
