"""The chunker tests' samples (test_chunking_*.py): a snippet per language, the chunks, docs and first lines expected
of it, and two helpers to compare chunks with them."""

from __future__ import annotations

from lenscribe.chunking import Chunk

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
