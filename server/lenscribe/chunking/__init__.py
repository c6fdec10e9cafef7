"""Tree-sitter chunker: source text + language id -> the functions, methods and classes in it (``Chunk``).

    from lenscribe.chunking import Chunk, chunk_text, language_for_path, supported_languages, ChunkingError
    lang = language_for_path("src/app.ts")             # "typescript", or None when unsupported
    for c in chunk_text(text, lang, min_lines=2, max_chars=4000, docs=True):
        c.kind, c.qualname, c.start, c.end, c.depth, c.doc, c.hash

Positions are LSP positions: 0-based line and UTF-16 code-unit column; ``end`` is exclusive.
Grammars come only from the pinned tree-sitter-<language> wheels (never downloaded at run time).

What becomes a chunk (``kind``; everything struct-, interface-, trait-, enum- or module-like is a "class"):

=========== ====================================================================================================
language    node types
=========== ====================================================================================================
python      class: class_definition; function/method: function_definition (decorators included)
javascript  class: class_declaration, ``const X = class {}``, ``export default class``;
            function: function_declaration, generator_function_declaration, method_definition,
            ``const f = () => {}`` / ``= function () {}``, class fields ``f = () => {}``, object ``{f: () => {}}``,
            ``a.b.f = function () {}`` (``Foo.prototype.f`` -> method ``Foo.f``), ``export default function/() =>``
typescript  as javascript, plus class: abstract_class_declaration, interface_declaration, enum_declaration,
 / tsx      ``type X = { ... }`` (object type alias)
go          function: function_declaration, ``f := func() {}``, ``var f = func() {}``; method: method_declaration
            (named ``Recv.Name``); class: type_spec of a struct or interface
java        class: class/interface/enum/record/annotation_type declarations;
            method: method_declaration (with body), constructor_declaration, compact_constructor_declaration
rust        function: function_item (in impl/trait -> method ``Type.name``); class: struct_item, enum_item,
            union_item, trait_item, impl_item (named after the implementing type); ``#[attributes]`` included
c           function: function_definition; class: struct/union/enum specifiers with a body and a name
            (own tag or the typedef's name; ``typedef`` included)
cpp         as c, plus class: class_specifier; method: function_definition in a class body or out-of-line
            ``Foo::bar`` (qualname ``Foo.bar``); function: ``auto f = [](...) {...};``; ``template<...>`` included
csharp      class: class/struct/interface/enum/record declarations; method: method/constructor/destructor/
            operator/conversion-operator declarations (with body); function: local_function_statement
ruby        class: class, module; method: method in a class/module (top-level: function), singleton_method
php         class: class/interface/trait/enum declarations; method: method_declaration (with body);
            function: function_definition, ``$f = function () {}`` / ``fn () =>`` (named ``$f``)
----------- optional: only when the grammar wheel is installed (pins in ``languages.OPTIONAL_PINS``)
kotlin      class: class_declaration (class/interface/enum), object_declaration (companion objects are
            transparent); function: function_declaration with a body (``fun T.ext()`` -> method ``T.ext``);
            method: secondary_constructor
scala       class: class/object/trait/enum definitions; function: function_definition
lua         function: function_declaration (``M.f`` -> function ``M.f``, ``M:f`` -> method ``M.f``),
            ``local f = function () end``
swift       class: class_declaration (class/struct/enum/extension/actor), protocol_declaration;
            function: function_declaration with a body; method: init/deinit
bash        function: function_definition
=========== ====================================================================================================

A ``function`` whose nearest enclosing chunk is a class is a ``method``.  ``qualname`` joins the names of the
enclosing chunks (and qualifiers written in the code: Go receivers, C++ ``A::B::f``, Ruby ``A::B``) with ".".
Namespaces and modules that are only name scopes (C++/C#/PHP namespaces, Rust ``mod``, TS ``namespace``) are
neither chunks nor part of qualnames.

``depth`` is the number of enclosing chunks in the same result (a class's methods: 1), for outlines.

Doc comments (``Chunk.doc``, only with ``docs=True``: they cost 4-11% of the chunking time;
``doc_of(text, chunk)`` finds one chunk's later): Python docstring; otherwise the comment directly above the chunk,
no blank line between: ``/** */`` (JS/TS/Java/PHP/Kotlin/Scala, also C#/Rust/Swift), ``///`` (Rust, C#, Swift),
``//`` runs or ``/* */`` (Go, C, C++), ``#`` runs (Ruby, Bash), ``--`` runs (Lua).  See ``docs.py`` for
``first_sentence`` and ``strip_doc``.

Threads: ``chunk_text`` may be called from many threads at once; each thread lazily gets its own tree-sitter
``Parser`` per language (``threading.local``), while ``Language`` and ``Query`` objects are shared.

Bounds: a definition nested in ``treesitter.MAX_DEPTH`` others is left out, a qualname keeps at most
``treesitter.MAX_QUALNAME`` characters (its end); ``chunk_text(..., timeout=S)`` raises ``ChunkingTimeout`` past S
seconds, and a large text then lets the other threads have the GIL while tree-sitter parses and queries it.
"""

from .base import Chunk, ChunkingError, ChunkingTimeout, chunk_hash
from .docs import first_sentence, strip_doc
from .languages import language_for_path, supported_languages
from .treesitter import chunk_text, doc_of

__all__ = [
    "Chunk",
    "ChunkingError",
    "ChunkingTimeout",
    "chunk_hash",
    "chunk_text",
    "doc_of",
    "first_sentence",
    "language_for_path",
    "strip_doc",
    "supported_languages",
]
