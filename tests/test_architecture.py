"""The server package's shape (issue 16), read from the source with ``ast`` (no module is imported):

1. no import cycles between its modules;
2. the one-way layering: document/files -> chunks (``chunking``) -> cache -> queue (``scheduling``) -> ``engine`` ->
   protocol (``lsp``), with the model layer below ``engine`` and beside the rest (``LAYER_RULES``);
3. no module over ``MAX_LINES`` lines but the declarative tables of ``LONG_TABLES`` (and, until their splits merge,
   ``BEING_SPLIT``);
4. docs/ARCHITECTURE.md's module map matches the tree: every path it names exists, and every module of the package
   is in it (named itself, or inside a package the map names without listing its modules).

An import counts wherever it is written (top level, in a function, in ``try``, in an ``if TYPE_CHECKING:`` block: a
type-only import is still a dependency, and a circle through one is a circle of the design, issue 27).
``from pkg import name`` imports ``pkg.name`` when that is a module, else ``pkg``; relative imports are resolved.
The checker's own tests build tiny packages with a cycle, a layering violation and a long module.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "server" / "lenscribe"
PACKAGE = "lenscribe"
ARCHITECTURE_MD = REPO / "docs" / "ARCHITECTURE.md"

MAX_LINES = 500
# Modules allowed over MAX_LINES (path below server/lenscribe/): declarative tables, each with its reason.
LONG_TABLES: dict[str, str] = {
    "chunking/languages.py": "the per-language table: one tree-sitter query, naming rules and doc-comment style "
    "for each of 17 languages; splitting it would scatter one table over files",
    "settings.py": "the SETTINGS table: every editor setting's key, kind, range and description, from which the"
    " clients' package.json, TypeScript and Lua are generated; most of the module is that one table",
}
# Over MAX_LINES today and being split by other branches (issue 16): skipped with a message. Remove each entry once
# its split has merged (the size test fails on an entry that is no longer over the limit, to say so).
BEING_SPLIT: set[str] = set()

MODEL_LAYER = (
    "lenscribe.generation",
    "lenscribe.summarizer",
    "lenscribe.modelfiles",
    "lenscribe.tokenization",
    "lenscribe.postprocess",
    "lenscribe.model_input",
    "lenscribe.modelbuild",
    "lenscribe.decoding",  # the model's decoding options and the summary id they give
    "lenscribe.grounding",  # the summarizer's check of a generated summary against the code
    "lenscribe.name_rule",  # the summarizer's fallback sentence (and the evaluation's baseline)
    "lenscribe.backend",  # an OpenAI-compatible server as the summarizer (its client; the engine schedules it)
    "lenscribe.prompts",  # the instruction an LLM gets and the clean-up of its reply
)


@dataclass(frozen=True)
class Rule:
    """Modules under one of ``sources`` may not import a module under one of ``forbidden`` (a name covers itself and
    its submodules); ``except_sources`` are exempt (a source name beginning with "!" means: every module outside it)."""

    name: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]
    except_sources: tuple[str, ...] = ()


# The CLI entry points that start the server: the only modules outside lenscribe.lsp that may import it. Today there
# is none: `lenscribe serve` is registered by lenscribe.cli through importlib.import_module("lenscribe.lsp.cli"),
# which this AST check does not count (a string, not an import).
LSP_ENTRY_POINTS: tuple[str, ...] = ("lenscribe.cli", "lenscribe.__main__")

LAYER_RULES: tuple[Rule, ...] = (
    Rule("only the protocol layer and the CLI entry points import lenscribe.lsp", ("!lenscribe.lsp",),
         ("lenscribe.lsp",), LSP_ENTRY_POINTS),
    Rule("lenscribe.lsp reaches the model only through lenscribe.engine", ("lenscribe.lsp",), MODEL_LAYER),
    Rule("lenscribe.lsp asks the engine for summaries (Engine.ask), never the queue", ("lenscribe.lsp",),
         ("lenscribe.scheduling",)),
    Rule("lenscribe.lsp.configuration publishes settings changes, the features subscribe (issue 27)",
         ("lenscribe.lsp.configuration",),
         ("lenscribe.lsp.code_lens", "lenscribe.lsp.documents", "lenscribe.lsp.workspace_run", "lenscribe.lsp.hover",
          "lenscribe.lsp.commands", "lenscribe.lsp.code_actions")),
    Rule("a feature showing a command names it from lenscribe.lsp.command_names, not from the feature running it",
         ("lenscribe.lsp.code_lens", "lenscribe.lsp.code_actions", "lenscribe.lsp.hover"), ("lenscribe.lsp.commands",)),
    Rule("the model layer knows nothing of the engine, the queue, the cache, chunking or LSP", MODEL_LAYER,
         ("lenscribe.engine", "lenscribe.scheduling", "lenscribe.cache", "lenscribe.chunking", "lenscribe.lsp")),
    Rule("lenscribe.chunking imports nothing of lenscribe outside itself", ("lenscribe.chunking",),
         ("!lenscribe.chunking",)),
    Rule("lenscribe.cache is below the queue, the engine and LSP", ("lenscribe.cache",),
         ("lenscribe.engine", "lenscribe.scheduling", "lenscribe.lsp")),
    Rule("lenscribe.scheduling is below the engine and LSP", ("lenscribe.scheduling",),
         ("lenscribe.engine", "lenscribe.lsp")),
)

# Layering violations in today's code, each with its reason and the fix; the layering test skips these with a message
# and fails once one is gone (remove its entry then). (importer, imported) -> why it is still there.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}

# Import cycles in today's code that the files they run through cannot lose on this branch (other branches are
# rewriting them): skipped with a message; the test fails once one is gone (remove its entry then).
KNOWN_CYCLES: dict[frozenset[str], str] = {}


# ---------------------------------------------------------------------------------------------------- the checker


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def modules_of(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([package, *parts])] = path
    return out


def _import_nodes(tree: ast.AST):
    """Import statements anywhere in the tree, ``if TYPE_CHECKING:`` blocks included."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is a module of the package."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The package's modules that ``module`` imports, one entry per import statement and target."""
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names
            ]
        for target in dict.fromkeys(targets):
            imported = _known(target, modules)
            if imported is not None and imported != module:
                found.append(Import(module, imported, path, node.lineno))
    return found


def import_graph(package_dir: Path, package: str) -> list[Import]:
    modules = modules_of(package_dir, package)
    return [imp for module, path in modules.items() for imp in imports_of(module, path, modules)]


def import_cycles(imports: list[Import]) -> list[tuple[frozenset[str], list[Import]]]:
    """Each group of modules that import each other (a strongly connected component) and one cycle through its
    first module, as import statements."""
    graph: dict[str, dict[str, Import]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, {}).setdefault(imp.imported, imp)
        graph.setdefault(imp.imported, {})
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    cycles = []
    for group in groups:
        members = set(group)
        # the shortest way back from the group's first module to itself, through the group only
        start = group[0]
        paths: dict[str, list[Import]] = {start: []}
        frontier = [start]
        cycle: list[Import] | None = None
        while frontier and cycle is None:
            nxt = []
            for node in frontier:
                for child, imp in sorted(graph[node].items()):
                    if child == start:
                        cycle = paths[node] + [imp]
                        break
                    if child in members and child not in paths:
                        paths[child] = paths[node] + [imp]
                        nxt.append(child)
                if cycle is not None:
                    break
            frontier = nxt
        assert cycle is not None
        cycles.append((frozenset(group), cycle))
    return cycles


def _under(module: str, name: str) -> bool:
    if name.startswith("!"):
        return not _under(module, name[1:])
    return module == name or module.startswith(name + ".")


def layer_violations(imports: list[Import], rules: tuple[Rule, ...] = LAYER_RULES) -> list[tuple[Rule, Import]]:
    out = []
    for rule in rules:
        for imp in imports:
            if (
                any(_under(imp.importer, s) for s in rule.sources)
                and not any(_under(imp.importer, s) for s in rule.except_sources)
                and any(_under(imp.imported, f) for f in rule.forbidden)
            ):
                out.append((rule, imp))
    return out


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def long_modules(package_dir: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Modules (path below ``package_dir``) over ``limit`` lines, with their line counts."""
    counts = {p.relative_to(package_dir).as_posix(): line_count(p) for p in sorted(package_dir.rglob("*.py"))}
    return {path: n for path, n in counts.items() if n > limit}


# ------------------------------------------------------------------------------------------- the package's checks


def _graph() -> list[Import]:
    return import_graph(PACKAGE_DIR, PACKAGE)


def _show(imports: list[Import]) -> str:
    return "\n".join(f"  {imp.path.relative_to(REPO)}:{imp.line}: {imp.importer} imports {imp.imported}"
                     for imp in imports)


def test_no_import_cycles():
    cycles = import_cycles(_graph())
    new = [(group, cycle) for group, cycle in cycles if group not in KNOWN_CYCLES]
    assert not new, "import cycles (modules that import each other; one cycle shown):\n" + "\n\n".join(
        f"{', '.join(sorted(group))}:\n{_show(cycle)}" for group, cycle in new)
    groups = [group for group, _ in cycles]
    gone = [sorted(group) for group in KNOWN_CYCLES if group not in groups]
    assert not gone, f"no longer a cycle as listed, update KNOWN_CYCLES in tests/test_architecture.py: {gone}"
    if cycles:
        pytest.skip("known import cycles (KNOWN_CYCLES):\n" + "\n".join(
            f"{_show(cycle)}\n  -- {KNOWN_CYCLES[group]}" for group, cycle in cycles))


def test_layering():
    violations = layer_violations(_graph())
    unexpected = [(rule, imp) for rule, imp in violations if (imp.importer, imp.imported) not in KNOWN_VIOLATIONS]
    assert not unexpected, "layering violations:\n" + "\n".join(
        f"{_show([imp])}  ({rule.name})" for rule, imp in unexpected)
    found = {(imp.importer, imp.imported) for _, imp in violations}
    gone = [pair for pair in KNOWN_VIOLATIONS if pair not in found]
    assert not gone, f"fixed, remove from KNOWN_VIOLATIONS in tests/test_architecture.py: {gone}"
    if violations:
        pytest.skip("known layering violations (KNOWN_VIOLATIONS):\n" + "\n".join(
            f"{_show([imp])}\n  -- {KNOWN_VIOLATIONS[(imp.importer, imp.imported)]}" for _, imp in violations))


def test_lsp_entry_points_exist():
    modules = modules_of(PACKAGE_DIR, PACKAGE)
    assert all(m in modules for m in LSP_ENTRY_POINTS), "a CLI entry point was renamed: update LSP_ENTRY_POINTS"
    for rule in LAYER_RULES:
        for name in (*rule.sources, *rule.forbidden, *rule.except_sources):
            plain = name.lstrip("!")
            assert any(_under(m, plain) for m in modules), f"rule {rule.name!r} names {plain}, which is no module"


@pytest.mark.parametrize("path", sorted(p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*.py")))
def test_module_size(path):
    n = line_count(PACKAGE_DIR / path)
    if path in BEING_SPLIT:
        assert n > MAX_LINES, f"{path} has {n} lines now: remove it from BEING_SPLIT in tests/test_architecture.py"
        pytest.skip(f"{path}: {n} lines, being split (issue 16); remove it from BEING_SPLIT once the split has merged")
    if path in LONG_TABLES:
        assert n > MAX_LINES, f"{path} has {n} lines now: remove it from LONG_TABLES in tests/test_architecture.py"
        return
    assert n <= MAX_LINES, f"server/lenscribe/{path} has {n} lines (at most {MAX_LINES}): split it by job"


def test_size_lists_name_existing_modules():
    for path in (*LONG_TABLES, *BEING_SPLIT):
        assert (PACKAGE_DIR / path).is_file(), f"{path} is gone: remove it from LONG_TABLES / BEING_SPLIT"
    assert all(reason.strip() for reason in LONG_TABLES.values())


# --------------------------------------------------------------------------------------- the module map of the docs

# An entry of the map: its indentation, then a file or directory name ("render.py", "lsp/", "server/lenscribe/"),
# then at least two spaces and the description (or the end of the line). Lines indented further continue a
# description.
_MAP_ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.-]+(?:/[\w.-]+)*(?:\.py|/))(?: {2,}(?P<text>.*))?$")
# A module named inside a description: "(baseline.py)", "rendered by render.py".
_MAP_MENTION = re.compile(r"(?<![\w/.-])([\w-]+(?:/[\w-]+)*\.py)\b")


@dataclass(frozen=True)
class MapEntry:
    path: str  # relative to the repository: "server/lenscribe/lsp/hover.py", "server/lenscribe/lsp/"
    line: int  # in the markdown file, 1-based
    mentions: tuple[str, ...]  # *.py names in its description


def module_map(markdown: str) -> list[MapEntry]:
    """The entries of the module map: the first fenced block that names ``server/lenscribe/``, read as an indented
    tree (two spaces a level; an entry ending in "/" is a directory holding the more indented entries below it)."""
    lines = markdown.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("```")]
    for open_at, close_at in zip(starts[::2], starts[1::2], strict=False):
        if any(ln.startswith("server/lenscribe/") for ln in lines[open_at + 1 : close_at]):
            break
    else:
        raise AssertionError("no fenced block naming server/lenscribe/ (the module map)")
    entries: list[MapEntry] = []
    parents: list[tuple[int, str]] = []  # (indent, directory path), innermost last
    mentions: list[str] = []
    for number in range(open_at + 1, close_at):
        text = lines[number]
        m = _MAP_ENTRY.match(text)
        indent = len(m["indent"]) if m else -1
        if m is None or (parents and indent > parents[-1][0] + 2) or (not parents and indent > 0):
            mentions.extend(_MAP_MENTION.findall(text))  # a description's next line
            if entries:
                last = entries[-1]
                entries[-1] = MapEntry(last.path, last.line, (*last.mentions, *_MAP_MENTION.findall(text)))
            continue
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + m["name"]
        entries.append(MapEntry(path, number + 1, tuple(_MAP_MENTION.findall(m["text"] or ""))))
        if path.endswith("/"):
            parents.append((indent, path))
    return entries


def map_mismatches(markdown: str, repo: Path, package_dir: Path) -> list[str]:
    """What the module map gets wrong about the tree under ``repo``: named paths that do not exist, modules named in a
    description that are nowhere near the entry, and modules of ``package_dir`` the map does not cover."""
    entries = module_map(markdown)
    problems = []
    for e in entries:
        target = repo / e.path
        if not (target.is_dir() if e.path.endswith("/") else target.is_file()):
            problems.append(f"line {e.line}: {e.path} does not exist")
        # a module named in the description: beside the entry, inside it (a directory), or in the package's root
        here = target if e.path.endswith("/") else target.parent
        for name in e.mentions:
            places = {here / name, here.parent / name, package_dir / name, repo / name}
            if not any(p.is_file() for p in places):
                problems.append(f"line {e.line}: {e.path} names {name}, which is not in {here.relative_to(repo)}/")
    named = {e.path for e in entries}
    package = package_dir.relative_to(repo).as_posix() + "/"
    listing = {p.rsplit("/", 1)[0] + "/" for p in named if p.endswith(".py")}  # directories that list modules
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(repo).as_posix()
        if path.name == "__init__.py" or rel in named:
            continue
        # else covered by the nearest directory the map names when that one is summed up, not listed (chunking/)
        nearest = max((d for d in named if d.endswith("/") and rel.startswith(d)), key=len, default=package)
        if nearest != package and nearest not in listing:
            continue
        problems.append(f"{rel} is not in the map")
    return problems


def test_module_map_matches_the_tree():
    problems = map_mismatches(ARCHITECTURE_MD.read_text(encoding="utf-8"), REPO, PACKAGE_DIR)
    assert not problems, "docs/ARCHITECTURE.md's module map does not match the tree:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------------ the checker on tiny constructed packages


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "lenscribe"
    for name, text in files.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


def _edges(pkg: Path) -> set[tuple[str, str]]:
    return {(imp.importer, imp.imported) for imp in import_graph(pkg, "lenscribe")}


def test_checker_resolves_every_import_form(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "import lenscribe.b\nfrom lenscribe import c\nfrom lenscribe.sub import thing\n",
        "b.py": "def f():\n    from . import c\n    from .sub.x import y\n",
        "c.py": "import os\nfrom lenscribe import VERSION\n",
        "sub/__init__.py": "from .x import y\nfrom .. import b\n",
        "sub/x.py": "from ..c import z\ntry:\n    import lenscribe.sub.x as again\nexcept ImportError:\n    pass\n",
        "typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lenscribe import a\n"
                    "else:\n    from lenscribe import b\n",
    })
    assert _edges(pkg) == {
        ("lenscribe.a", "lenscribe.b"),
        ("lenscribe.a", "lenscribe.c"),
        ("lenscribe.a", "lenscribe.sub"),  # `thing` is no module: the package itself
        ("lenscribe.b", "lenscribe.c"),
        ("lenscribe.b", "lenscribe.sub.x"),
        ("lenscribe.c", "lenscribe"),
        ("lenscribe.sub", "lenscribe.sub.x"),
        ("lenscribe.sub", "lenscribe.b"),
        ("lenscribe.sub.x", "lenscribe.c"),
        ("lenscribe.typed", "lenscribe.a"),  # a TYPE_CHECKING import counts
        ("lenscribe.typed", "lenscribe.b"),
    }


def test_checker_finds_a_cycle_through_a_function_local_import(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from lenscribe import b\n",
        "b.py": "from lenscribe.c import x\n",
        "c.py": "def f():\n    import lenscribe.a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lenscribe import e\n",
        "e.py": "from lenscribe import d\n",
    })
    cycles = import_cycles(import_graph(pkg, "lenscribe"))
    assert len(cycles) == 2, cycles  # d <-> e through a TYPE_CHECKING import is a cycle as well
    assert cycles[1][0] == {"lenscribe.d", "lenscribe.e"}
    group, cycle = cycles[0]
    assert group == {"lenscribe.a", "lenscribe.b", "lenscribe.c"}
    assert [(imp.importer, imp.imported) for imp in cycle] == [
        ("lenscribe.a", "lenscribe.b"), ("lenscribe.b", "lenscribe.c"), ("lenscribe.c", "lenscribe.a")]
    assert cycle[2].line == 2 and cycle[2].path.name == "c.py"


def test_checker_finds_layering_violations(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "cli.py": "import lenscribe.lsp.cli\n",  # an entry point: allowed
        "engine.py": "from lenscribe.summarizer import S\nfrom lenscribe.lsp import server\n",
        "summarizer.py": "from lenscribe.cache import Cache\n",
        "cache.py": "",
        "scheduling.py": "from lenscribe import engine\n",
        "chunking/__init__.py": "from .languages import x\nfrom lenscribe.settings import Settings\n",
        "chunking/languages.py": "",
        "settings.py": "",
        "lsp/__init__.py": "",
        "lsp/cli.py": "from lenscribe.lsp.server import run\n",
        "lsp/server.py": "from lenscribe.engine import Engine\n",
        "lsp/actions.py": "def f():\n    from lenscribe.modelbuild.verify import v\n",
        "modelbuild/__init__.py": "",
        "modelbuild/verify.py": "",
    })
    found = {(imp.importer, imp.imported) for _, imp in layer_violations(import_graph(pkg, "lenscribe"))}
    assert found == {
        ("lenscribe.engine", "lenscribe.lsp.server"),
        ("lenscribe.summarizer", "lenscribe.cache"),
        ("lenscribe.scheduling", "lenscribe.engine"),
        ("lenscribe.chunking", "lenscribe.settings"),
        ("lenscribe.lsp.actions", "lenscribe.modelbuild.verify"),
    }


def test_checker_finds_long_modules(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "short.py": "x = 1\n" * MAX_LINES,
        "long.py": "x = 1\n" * (MAX_LINES + 1),
        "sub/table.py": "# row\n" * (MAX_LINES + 200),
    })
    assert long_modules(pkg) == {"long.py": MAX_LINES + 1, "sub/table.py": MAX_LINES + 200}


def test_map_checker_finds_missing_and_unmapped_modules(tmp_path):
    pkg = _package(tmp_path / "server", {
        "__init__.py": "",
        "engine.py": "",
        "extra.py": "",  # in no entry
        "chunking/__init__.py": "",
        "chunking/base.py": "",  # covered: the map sums chunking/ up
        "lsp/__init__.py": "",
        "lsp/hover.py": "",
        "lsp/new.py": "",  # lsp/ lists its modules, but not this one
    })
    assert pkg == tmp_path / "server" / "lenscribe"
    (tmp_path / "tests").mkdir()
    markdown = "\n".join([
        "# map", "", "```", "server/lenscribe/",
        "  engine.py     the engine; see render.py",  # render.py: nowhere
        "  gone.py       removed long ago",
        "  chunking/     the chunker (base.py)",
        "  lsp/          protocol",
        "    hover.py    hover,",
        "                a description over two lines (helper.py)",  # a continuation line, helper.py nowhere
        "tests/          pytest",
        "```", "",
    ])
    assert map_mismatches(markdown, tmp_path, pkg) == [
        "line 5: server/lenscribe/engine.py names render.py, which is not in server/lenscribe/",
        "line 6: server/lenscribe/gone.py does not exist",
        "line 9: server/lenscribe/lsp/hover.py names helper.py, which is not in server/lenscribe/lsp/",
        "server/lenscribe/extra.py is not in the map",
        "server/lenscribe/lsp/new.py is not in the map",
    ]
    assert [e.path for e in module_map(markdown)] == [
        "server/lenscribe/", "server/lenscribe/engine.py", "server/lenscribe/gone.py", "server/lenscribe/chunking/",
        "server/lenscribe/lsp/", "server/lenscribe/lsp/hover.py", "tests/"]
