"""Per-language knowledge: file names, grammar wheels, definition queries, naming rules, doc-comment styles.

Everything language-specific lives here; ``treesitter.py`` only walks what these tables describe.

How a language is described (``LanguageSpec``):

* ``query``: tree-sitter patterns, each capturing a definition node as ``@class``, ``@function`` or ``@method``
  (and optionally its name node as ``@name``).  ``@function`` becomes a method when the nearest enclosing chunk
  is a class (or when the namer says so, e.g. C++ ``Foo::bar``); ``@method`` is always a method.
* ``namers``: node type -> function returning ``Naming(name, qualifier, kind)`` for nodes whose name is not a
  plain ``name`` field (Go receivers, Rust ``impl`` types, C declarators, ...), or ``None`` to drop the node.
* ``wrappers``: parent node type -> predicate(parent, child); while it holds, the chunk grows to the parent
  (Python ``decorated_definition``, JS ``export_statement`` / single-declarator ``const``, C++ ``template<...>``).
* ``absorb_before``: preceding sibling node types that belong to the chunk (Rust ``#[attributes]``).
* ``doc``: how the doc comment right above a chunk looks (or Python docstrings).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from tree_sitter import Node

__all__ = [
    "LANGUAGES",
    "OPTIONAL_PINS",
    "DocStyle",
    "LanguageSpec",
    "Naming",
    "language_for_path",
    "spec_for",
    "supported_languages",
]


class Naming(NamedTuple):
    name: str
    qualifier: tuple[str, ...] = ()  # written qualifiers, e.g. ("Foo",) for C++ `Foo::bar`, Go receiver type
    kind: str | None = None  # overrides the captured kind ("method" for C++ `Foo::bar`)


@dataclass(frozen=True)
class DocStyle:
    """Which comments directly above a definition (no blank line between) are its documentation."""

    line_prefixes: tuple[str, ...] = ()  # a run of lines starting with one of these, e.g. ("///",)
    line_excludes: tuple[str, ...] = ()  # ... but not with one of these, e.g. ("////",)
    block_openers: tuple[str, ...] = ()  # a /* */ block whose opener starts with one of these, e.g. ("/**",)
    block_excludes: tuple[str, ...] = ()  # ... but not these, e.g. ("/**/",)
    drop_lines: re.Pattern[str] | None = None  # raw comment lines to ignore (Go directives, Ruby magic comments)
    python_docstring: bool = False  # the doc is the body's first string statement instead


Predicate = Callable[[Node, Node], bool]
Namer = Callable[[Node], "Naming | None"]


@dataclass(frozen=True)
class LanguageSpec:
    id: str
    module: str  # grammar wheel's module
    factory: str  # function in it returning the language capsule
    extensions: tuple[str, ...]
    query: str
    doc: DocStyle
    filenames: tuple[str, ...] = ()
    interpreters: tuple[str, ...] = ()  # shebang interpreter names (version digits stripped)
    wrappers: Mapping[str, Predicate] = field(default_factory=dict)
    absorb_before: frozenset[str] = frozenset()
    skip_before: frozenset[str] = frozenset()  # may sit between absorbed siblings (comments)
    namers: Mapping[str, Namer] = field(default_factory=dict)
    optional: str | None = None  # pip requirement of a grammar that is not a hard dependency (None: always there)

    @property
    def available(self) -> bool:
        """The grammar wheel is importable (always true for the 12 pinned core languages)."""
        return self.optional is None or _importable(self.module)


# --------------------------------------------------------------------------------------------------- helpers

_IMPORTABLE: dict[str, bool] = {}


def _importable(module: str) -> bool:
    ok = _IMPORTABLE.get(module)
    if ok is None:
        try:
            ok = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            ok = False
        _IMPORTABLE[module] = ok
    return ok



def text_of(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _field(node: Node, name: str) -> Node | None:
    return node.child_by_field_name(name)


_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})


def _always(parent: Node, child: Node) -> bool:
    return True


def _only_named_child(parent: Node, child: Node) -> bool:
    """``child`` is the parent's only named child apart from comments."""
    return all(c.type in _COMMENT_TYPES or c.id == child.id for c in parent.named_children)


def _is_field(name: str) -> Predicate:
    def pred(parent: Node, child: Node) -> bool:
        f = parent.child_by_field_name(name)
        return f is not None and f.id == child.id

    return pred


def _single_field(name: str) -> Predicate:
    """``child`` is the one node in the parent's ``name`` field (C++ `auto f = [] {...};`)."""

    def pred(parent: Node, child: Node) -> bool:
        nodes = parent.children_by_field_name(name)
        return len(nodes) == 1 and nodes[0].id == child.id

    return pred


def _strip_generics(s: str) -> str:
    """`Foo<T, U>` / `Foo[T]` -> `Foo`."""
    for bracket in ("<", "["):
        i = s.find(bracket)
        if i > 0:
            s = s[:i]
    return s.strip()


# --------------------------------------------------------------------------------------------------- Python

_PYTHON_QUERY = """
(class_definition name: (identifier) @name) @class
(function_definition name: (identifier) @name) @function
"""

# --------------------------------------------------------------------------------------------------- JS / TS

_JS_FUNC_VALUES = "[(arrow_function) (function_expression) (generator_function)]"

_JS_COMMON_QUERY = f"""
(function_declaration name: (_) @name) @function
(generator_function_declaration name: (_) @name) @function
(class_declaration name: (_) @name) @class
(method_definition name: (_) @name) @function
(variable_declarator name: (identifier) @name value: {_JS_FUNC_VALUES}) @function
(variable_declarator name: (identifier) @name value: (class)) @class
(pair key: (_) value: {_JS_FUNC_VALUES}) @function
(assignment_expression left: [(identifier) (member_expression)] right: {_JS_FUNC_VALUES}) @function
(export_statement value: {_JS_FUNC_VALUES} @function)
(export_statement value: (class) @class)
"""

_JAVASCRIPT_QUERY = (
    _JS_COMMON_QUERY
    + f"""
(field_definition property: (_) @name value: {_JS_FUNC_VALUES}) @function
"""
)

_TYPESCRIPT_QUERY = (
    _JS_COMMON_QUERY
    + f"""
(public_field_definition name: (_) @name value: {_JS_FUNC_VALUES}) @function
(abstract_class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @class
(enum_declaration name: (_) @name) @class
(type_alias_declaration name: (_) @name value: (object_type)) @class
"""
)


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"`":
        return s[1:-1]
    return s


def _js_default_export(node: Node) -> Naming:
    """`export default function () {}` / `export default class {}` / `export default () => {}`."""
    name = _field(node, "name")
    return Naming(text_of(name) if name is not None else "default")


def _js_pair(node: Node) -> Naming | None:
    key = _field(node, "key")
    if key is None:
        return None
    if key.type == "computed_property_name":
        return Naming(text_of(key))
    return Naming(_unquote(text_of(key)))


def _js_member_path(node: Node) -> list[str]:
    obj = _field(node, "object") if node.type == "member_expression" else None
    if obj is not None:  # the grammar requires it; a member expression without one falls through to its text
        return _js_member_path(obj) + [text_of(_field(node, "property"))]
    if node.type in ("identifier", "this", "property_identifier"):
        return [text_of(node)]
    return [text_of(node)]


def _js_assignment(node: Node) -> Naming | None:
    """`Foo.prototype.bar = function () {}` (method Foo.bar), `exports.run = () => {}`, `handler = function () {}`."""
    left = _field(node, "left")
    if left is None:
        return None
    if left.type == "identifier":
        return Naming(text_of(left))
    path = _js_member_path(left)
    if not path or not path[-1]:
        return None
    *qual, name = path
    kind = "method" if ("prototype" in qual or qual[:1] == ["this"]) else None
    qual = [q for q in qual if q not in ("prototype", "this")]
    if qual[:2] == ["module", "exports"]:
        qual = qual[2:]
    elif qual[:1] == ["exports"]:
        qual = qual[1:]
    return Naming(name, tuple(qual), kind)


_JS_NAMERS: dict[str, Namer] = {
    "function_expression": _js_default_export,
    "arrow_function": _js_default_export,
    "generator_function": _js_default_export,
    "class": _js_default_export,
    "pair": _js_pair,
    "assignment_expression": _js_assignment,
}

_JS_WRAPPERS: dict[str, Predicate] = {
    "export_statement": _always,
    "lexical_declaration": _only_named_child,
    "variable_declaration": _only_named_child,
    "expression_statement": _only_named_child,
    "ambient_declaration": _always,
}

# TypeScript puts a class member's decorators before it, as siblings in the class body
_TS_DECORATORS = frozenset({"decorator"})
_TS_COMMENTS = frozenset({"comment"})

_JSDOC = DocStyle(block_openers=("/**",), block_excludes=("/**/",))

# --------------------------------------------------------------------------------------------------- Go

_GO_QUERY = """
(function_declaration name: (identifier) @name) @function
(method_declaration name: (field_identifier) @name) @method
(type_spec name: (type_identifier) @name type: [(struct_type) (interface_type)]) @class
(short_var_declaration left: (expression_list . (identifier) @name .)
                       right: (expression_list . (func_literal) .)) @function
(var_spec name: (identifier) @name . value: (expression_list . (func_literal) .)) @function
"""


def _go_type_name(node: Node | None) -> str:
    while node is not None and node.type in ("pointer_type", "generic_type", "parenthesized_type"):
        if node.type == "generic_type":
            node = _field(node, "type")
        else:
            node = next((c for c in node.named_children if c.type not in _COMMENT_TYPES), None)
    return _strip_generics(text_of(node))


def _go_method(node: Node) -> Naming | None:
    name = text_of(_field(node, "name"))
    receiver = _field(node, "receiver")
    recv_type = ""
    if receiver is not None:
        for param in receiver.named_children:
            if param.type == "parameter_declaration":
                recv_type = _go_type_name(_field(param, "type"))
                break
    return Naming(name, (recv_type,) if recv_type else (), "method")


# --------------------------------------------------------------------------------------------------- Java

_JAVA_QUERY = """
[(class_declaration) (interface_declaration) (enum_declaration) (record_declaration)
 (annotation_type_declaration)] @class
(method_declaration body: (_)) @method
(constructor_declaration) @method
(compact_constructor_declaration) @method
"""

# --------------------------------------------------------------------------------------------------- Rust

_RUST_QUERY = """
(function_item name: (identifier) @name) @function
[(struct_item) (enum_item) (union_item) (trait_item)] @class
(impl_item) @class
"""


def _rust_type_name(node: Node | None) -> str:
    while node is not None:
        if node.type in ("generic_type", "reference_type", "pointer_type"):
            node = _field(node, "type")
        elif node.type == "scoped_type_identifier":
            node = _field(node, "name")
        else:
            break
    return _strip_generics(text_of(node))


def _rust_impl(node: Node) -> Naming | None:
    name = _rust_type_name(_field(node, "type"))
    return Naming(name or "impl")


# --------------------------------------------------------------------------------------------------- C / C++

_C_QUERY = """
(function_definition declarator: (_)) @function
(struct_specifier body: (_)) @class
(union_specifier body: (_)) @class
(enum_specifier body: (_)) @class
"""

_CPP_QUERY = (
    _C_QUERY
    + """
(class_specifier body: (_)) @class
(init_declarator declarator: (identifier) @name value: (lambda_expression)) @function
"""
)

_C_DECLARATOR_WRAPPERS = frozenset(
    {
        "pointer_declarator",
        "reference_declarator",
        "function_declarator",
        "parenthesized_declarator",
        "attributed_declarator",
        "array_declarator",
    }
)


def _cpp_name_parts(node: Node | None) -> list[str]:
    """A (possibly qualified) declarator name as a list: `ns::Foo<T>::bar` -> ["ns", "Foo", "bar"]."""
    if node is None:
        return []
    t = node.type
    if t == "qualified_identifier":
        scope = _field(node, "scope")
        parts = _cpp_name_parts(scope) if scope is not None else []
        return parts + _cpp_name_parts(_field(node, "name"))
    if t in ("template_type", "template_function", "template_method"):
        return [text_of(_field(node, "name"))]
    if t == "operator_cast":
        return ["operator " + text_of(_field(node, "type"))]
    if t == "destructor_name":
        return ["".join(text_of(node).split())]
    if t == "operator_name":  # `operator ==` -> `operator==`, `operator new` stays
        op = " ".join(text_of(node).split())
        if op.startswith("operator ") and not op[9:10].isalpha():
            op = "operator" + op[9:]
        return [op]
    if t in _C_DECLARATOR_WRAPPERS:
        inner = _field(node, "declarator")
        if inner is None:
            inner = next((c for c in node.named_children if c.type not in _COMMENT_TYPES), None)
        return _cpp_name_parts(inner)
    if t in ("identifier", "field_identifier", "type_identifier", "namespace_identifier", "primitive_type"):
        return [text_of(node)]
    return []


def _c_function(node: Node) -> Naming | None:
    parts = _cpp_name_parts(_field(node, "declarator"))
    if not parts or not parts[-1]:
        return None
    *qual, name = parts
    return Naming(name, tuple(qual), "method" if qual else None)


def _c_type(node: Node) -> Naming | None:
    """struct/union/enum/class: its tag name, else the typedef name (`typedef struct {..} Vec;`); anonymous: dropped."""
    name = _field(node, "name")
    if name is not None:
        parts = _cpp_name_parts(name) or [_strip_generics(text_of(name))]
        *qual, last = parts
        return Naming(last, tuple(qual))
    parent = node.parent
    if parent is not None and parent.type == "type_definition":
        declarator = _field(parent, "declarator")
        parts = _cpp_name_parts(declarator)
        if parts:
            return Naming(parts[-1])
    return None


_C_NAMERS: dict[str, Namer] = {
    "function_definition": _c_function,
    "struct_specifier": _c_type,
    "union_specifier": _c_type,
    "enum_specifier": _c_type,
    "class_specifier": _c_type,
}

_C_WRAPPERS: dict[str, Predicate] = {
    "type_definition": _is_field("type"),
}

_CPP_WRAPPERS: dict[str, Predicate] = {
    "type_definition": _is_field("type"),
    "template_declaration": _always,
    "declaration": _single_field("declarator"),
}

_C_DOC = DocStyle(line_prefixes=("//",), block_openers=("/*",), block_excludes=("/**/",))

# --------------------------------------------------------------------------------------------------- C#

_CSHARP_QUERY = """
[(class_declaration) (struct_declaration) (interface_declaration) (enum_declaration) (record_declaration)] @class
(method_declaration body: (_)) @method
(constructor_declaration body: (_)) @method
(destructor_declaration body: (_)) @method
(operator_declaration body: (_)) @method
(conversion_operator_declaration body: (_)) @method
(local_function_statement name: (identifier) @name) @function
"""


def _cs_destructor(node: Node) -> Naming:
    return Naming("~" + text_of(_field(node, "name")))


def _cs_operator(node: Node) -> Naming:
    op = _field(node, "operator")
    return Naming("operator" + text_of(op) if op is not None else "operator")


def _cs_conversion(node: Node) -> Naming:
    return Naming("operator " + text_of(_field(node, "type")))


# --------------------------------------------------------------------------------------------------- Ruby

_RUBY_QUERY = """
(class name: (_)) @class
(module name: (_)) @class
(method name: (_) @name) @function
(singleton_method name: (_) @name) @method
"""


def _ruby_scoped(node: Node) -> Naming | None:
    name = _field(node, "name")
    if name is None:
        return None
    parts = [p for p in text_of(name).split("::") if p]
    if not parts:
        return None
    *qual, last = parts
    return Naming(last, tuple(qual))


def _ruby_singleton(node: Node) -> Naming:
    obj = _field(node, "object")
    name = text_of(_field(node, "name"))
    if obj is None or obj.type == "self":
        return Naming(name, (), "method")
    return Naming(name, tuple(p for p in text_of(obj).split("::") if p), "method")


_RUBY_DOC = DocStyle(
    line_prefixes=("#",),
    line_excludes=("#!", "#{"),
    drop_lines=re.compile(r"^\s*#\s*(?:frozen_string_literal|encoding|coding|warn_indent|typed|rubocop)\s*:"),
)

# --------------------------------------------------------------------------------------------------- PHP

_PHP_QUERY = """
[(class_declaration) (interface_declaration) (trait_declaration) (enum_declaration)] @class
(method_declaration body: (_)) @method
(function_definition name: (name) @name) @function
(assignment_expression left: (variable_name) @name right: [(anonymous_function) (arrow_function)]) @function
"""

# --------------------------------------------------------------------------------------------------- optional grammars
# Not pinned in pyproject (yet): used when their wheel is installed; see OPTIONAL_PINS.

_KOTLIN_QUERY = """
(class_declaration name: (_) @name) @class
(object_declaration name: (_) @name) @class
(function_declaration name: (_) @name (function_body)) @function
(secondary_constructor) @method
"""


def _kotlin_function(node: Node) -> Naming:
    """`fun String.ext()` -> method `String.ext` (extension receiver as qualifier, like a Go receiver)."""
    name_node = _field(node, "name")
    receiver = None
    for child in node.named_children:
        if name_node is not None and child.id == name_node.id:
            break
        if child.type in ("user_type", "nullable_type", "function_type", "parenthesized_type"):
            receiver = child
    name = text_of(name_node)
    if receiver is not None:
        return Naming(name, (_strip_generics(text_of(receiver)).rstrip("?"),), "method")
    return Naming(name)


_SCALA_QUERY = """
[(class_definition) (object_definition) (trait_definition) (enum_definition)] @class
(function_definition name: (_) @name) @function
"""

_LUA_QUERY = """
(function_declaration name: (_)) @function
(assignment_statement (variable_list . (_) .) (expression_list . (function_definition) .)) @function
"""


def _lua_path(node: Node | None) -> Naming | None:
    """`f` / `M.sub.f` (function f, qualifier M.sub) / `M:f` (method f of M)."""
    if node is None:
        return None
    if node.type == "method_index_expression":
        table = text_of(_field(node, "table"))
        return Naming(text_of(_field(node, "method")), tuple(p for p in table.split(".") if p), "method")
    if node.type == "dot_index_expression":
        *qual, name = text_of(node).split(".")
        return Naming(name.strip(), tuple(q.strip() for q in qual if q.strip()))
    if node.type == "identifier":
        return Naming(text_of(node))
    return None


def _lua_function(node: Node) -> Naming | None:
    return _lua_path(_field(node, "name"))


def _lua_assignment(node: Node) -> Naming | None:
    variables = next((c for c in node.named_children if c.type == "variable_list"), None)
    if variables is None:
        return None
    return _lua_path(next((c for c in variables.named_children if c.type not in _COMMENT_TYPES), None))


_SWIFT_QUERY = """
(class_declaration name: (_) @name) @class
(protocol_declaration name: (_) @name) @class
(function_declaration name: (simple_identifier) @name body: (_)) @function
(init_declaration body: (_)) @method
(deinit_declaration body: (_)) @method
"""

_BASH_QUERY = """
(function_definition name: (word) @name) @function
"""

# --------------------------------------------------------------------------------------------------- the table

_GO_DIRECTIVE = re.compile(r"^\s*//(?:go:|nolint|export |line |extern |lint:|\+build)")

LANGUAGES: dict[str, LanguageSpec] = {
    spec.id: spec
    for spec in (
        LanguageSpec(
            id="python",
            module="tree_sitter_python",
            factory="language",
            extensions=(".py", ".pyi", ".pyw"),
            interpreters=("python", "pypy"),
            filenames=("SConstruct", "SConscript"),
            query=_PYTHON_QUERY,
            doc=DocStyle(python_docstring=True),
            wrappers={"decorated_definition": _always},
        ),
        LanguageSpec(
            id="javascript",
            module="tree_sitter_javascript",
            factory="language",
            extensions=(".js", ".mjs", ".cjs", ".jsx"),
            interpreters=("node", "nodejs"),
            query=_JAVASCRIPT_QUERY,
            doc=_JSDOC,
            wrappers=_JS_WRAPPERS,
            namers=_JS_NAMERS,
        ),
        LanguageSpec(
            id="typescript",
            module="tree_sitter_typescript",
            factory="language_typescript",
            extensions=(".ts", ".mts", ".cts"),
            interpreters=("ts-node", "tsx"),
            query=_TYPESCRIPT_QUERY,
            doc=_JSDOC,
            wrappers=_JS_WRAPPERS,
            namers=_JS_NAMERS,
            absorb_before=_TS_DECORATORS,
            skip_before=_TS_COMMENTS,
        ),
        LanguageSpec(
            id="tsx",
            module="tree_sitter_typescript",
            factory="language_tsx",
            extensions=(".tsx",),
            query=_TYPESCRIPT_QUERY,
            doc=_JSDOC,
            wrappers=_JS_WRAPPERS,
            namers=_JS_NAMERS,
            absorb_before=_TS_DECORATORS,
            skip_before=_TS_COMMENTS,
        ),
        LanguageSpec(
            id="go",
            module="tree_sitter_go",
            factory="language",
            extensions=(".go",),
            query=_GO_QUERY,
            doc=DocStyle(line_prefixes=("//",), block_openers=("/*",), block_excludes=("/**/",),
                         drop_lines=_GO_DIRECTIVE),
            wrappers={"type_declaration": _only_named_child, "var_declaration": _only_named_child},
            namers={"method_declaration": _go_method},
        ),
        LanguageSpec(
            id="java",
            module="tree_sitter_java",
            factory="language",
            extensions=(".java",),
            query=_JAVA_QUERY,
            doc=_JSDOC,
        ),
        LanguageSpec(
            id="rust",
            module="tree_sitter_rust",
            factory="language",
            extensions=(".rs",),
            query=_RUST_QUERY,
            doc=DocStyle(line_prefixes=("///",), line_excludes=("////",), block_openers=("/**",),
                         block_excludes=("/***", "/**/")),
            absorb_before=frozenset({"attribute_item"}),
            skip_before=frozenset({"line_comment", "block_comment"}),
            namers={"impl_item": _rust_impl},
        ),
        LanguageSpec(
            id="c",
            module="tree_sitter_c",
            factory="language",
            extensions=(".c", ".h"),
            query=_C_QUERY,
            doc=_C_DOC,
            wrappers=_C_WRAPPERS,
            namers=_C_NAMERS,
        ),
        LanguageSpec(
            id="cpp",
            module="tree_sitter_cpp",
            factory="language",
            extensions=(".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tpp", ".inl",
                        ".ixx", ".cppm", ".C", ".H"),
            query=_CPP_QUERY,
            doc=_C_DOC,
            wrappers=_CPP_WRAPPERS,
            namers=_C_NAMERS,
        ),
        LanguageSpec(
            id="csharp",
            module="tree_sitter_c_sharp",
            factory="language",
            extensions=(".cs", ".csx"),
            query=_CSHARP_QUERY,
            doc=DocStyle(line_prefixes=("///",), line_excludes=("////",), block_openers=("/**",),
                         block_excludes=("/**/",)),
            namers={
                "destructor_declaration": _cs_destructor,
                "operator_declaration": _cs_operator,
                "conversion_operator_declaration": _cs_conversion,
            },
        ),
        LanguageSpec(
            id="ruby",
            module="tree_sitter_ruby",
            factory="language",
            extensions=(".rb", ".rake", ".gemspec", ".ru", ".rbw", ".jbuilder"),
            filenames=("Rakefile", "Gemfile", "Guardfile", "Vagrantfile", "Podfile", "Fastfile", "Brewfile",
                       "Capfile", "Thorfile", "Dangerfile"),
            interpreters=("ruby", "jruby", "truffleruby"),
            query=_RUBY_QUERY,
            doc=_RUBY_DOC,
            namers={"class": _ruby_scoped, "module": _ruby_scoped, "singleton_method": _ruby_singleton},
        ),
        LanguageSpec(
            id="php",
            module="tree_sitter_php",
            factory="language_php",
            extensions=(".php", ".phtml", ".php3", ".php4", ".php5", ".php7", ".php8", ".phps"),
            interpreters=("php",),
            query=_PHP_QUERY,
            doc=_JSDOC,
            wrappers={"expression_statement": _only_named_child},
        ),
        # ---- optional: used when the grammar wheel is installed
        LanguageSpec(
            id="kotlin",
            module="tree_sitter_kotlin",
            factory="language",
            extensions=(".kt", ".kts"),
            query=_KOTLIN_QUERY,
            doc=_JSDOC,
            namers={
                "function_declaration": _kotlin_function,
                "secondary_constructor": lambda node: Naming("constructor"),
            },
            optional="tree-sitter-kotlin==1.1.0",
        ),
        LanguageSpec(
            id="scala",
            module="tree_sitter_scala",
            factory="language",
            extensions=(".scala", ".sc"),
            interpreters=("scala",),
            query=_SCALA_QUERY,
            doc=_JSDOC,
            optional="tree-sitter-scala==0.26.3",
        ),
        LanguageSpec(
            id="lua",
            module="tree_sitter_lua",
            factory="language",
            extensions=(".lua",),
            interpreters=("lua", "luajit"),
            query=_LUA_QUERY,
            doc=DocStyle(line_prefixes=("--",), line_excludes=("--[[", "--]]")),
            wrappers={"variable_declaration": _only_named_child},
            namers={"function_declaration": _lua_function, "assignment_statement": _lua_assignment},
            optional="tree-sitter-lua==0.5.0",
        ),
        LanguageSpec(
            id="swift",
            module="tree_sitter_swift",
            factory="language",
            extensions=(".swift",),
            interpreters=("swift",),
            query=_SWIFT_QUERY,
            doc=DocStyle(line_prefixes=("///",), line_excludes=("////",), block_openers=("/**",),
                         block_excludes=("/**/",)),
            namers={
                "class_declaration": lambda node: Naming(_strip_generics(text_of(_field(node, "name")))),
                "init_declaration": lambda node: Naming("init"),
                "deinit_declaration": lambda node: Naming("deinit"),
            },
            optional="tree-sitter-swift==0.7.4",
        ),
        LanguageSpec(
            id="bash",
            module="tree_sitter_bash",
            factory="language",
            extensions=(".sh", ".bash"),
            filenames=(".bashrc", ".bash_profile", ".profile", "PKGBUILD"),
            interpreters=("bash", "sh", "zsh", "dash", "ksh"),
            query=_BASH_QUERY,
            doc=DocStyle(line_prefixes=("#",), line_excludes=("#!",)),
            optional="tree-sitter-bash==0.25.1",
        ),
    )
}

OPTIONAL_PINS: dict[str, str] = {spec.id: spec.optional for spec in LANGUAGES.values() if spec.optional}

_BY_EXTENSION: dict[str, str] = {}
_BY_FILENAME: dict[str, str] = {}
_BY_INTERPRETER: dict[str, str] = {}
for _spec in LANGUAGES.values():
    for _ext in _spec.extensions:
        _BY_EXTENSION.setdefault(_ext, _spec.id)
    for _name in _spec.filenames:
        _BY_FILENAME[_name] = _spec.id
    for _interp in _spec.interpreters:
        _BY_INTERPRETER[_interp] = _spec.id


def supported_languages() -> tuple[str, ...]:
    """Language ids that ``chunk_text`` accepts: the 12 core ones, then optional ones whose grammar is installed."""
    return tuple(spec.id for spec in LANGUAGES.values() if spec.available)


def spec_for(language: str) -> LanguageSpec | None:
    """The description of ``language``, None when unknown (also when its optional grammar is not installed)."""
    spec = LANGUAGES.get(language)
    return spec if spec is not None and spec.available else None


def _available(language: str | None) -> str | None:
    return language if language is not None and LANGUAGES[language].available else None


_SHEBANG_VERSION = re.compile(r"[\d.]+$")


def _language_from_shebang(first_line: str) -> str | None:
    if not first_line.startswith("#!"):
        return None
    words = first_line[2:].strip().split()
    if not words:
        return None
    interp = words[0].rsplit("/", 1)[-1]
    if interp == "env":  # #!/usr/bin/env [-S] [VAR=x] python3
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not rest:
            return None
        interp = rest[0].rsplit("/", 1)[-1]
    interp = _SHEBANG_VERSION.sub("", interp)
    return _available(_BY_INTERPRETER.get(interp))


def language_for_path(path: str | Path, first_line: str | None = None) -> str | None:
    """The language id for a file, or None when it is not a supported language.

    Decided by file name (``Rakefile``...), then extension (exact case first, so ``.C``/``.H`` are C++; ``.h`` is C),
    then by a ``#!`` line: ``first_line`` when given, else, for a file name without any extension, the first line
    of the file when it exists on disk (the only case that reads the disk).
    """
    p = Path(path)
    name = p.name
    if name in _BY_FILENAME:
        return _available(_BY_FILENAME[name])
    suffix = p.suffix
    if suffix:
        lang = _BY_EXTENSION.get(suffix) or _BY_EXTENSION.get(suffix.lower())
        if lang:
            return _available(lang)
    if first_line is None:
        if suffix:
            return None
        try:
            with open(p, "rb") as f:
                head = f.read(256)
        except (OSError, ValueError):
            return None
        first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    return _language_from_shebang(first_line.rstrip("\r\n"))
