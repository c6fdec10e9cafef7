"""Writes the editor clients' copies of the settings table (``lenscribe.settings.SETTINGS``).

    python -m lenscribe.settings_schema --write     rewrite the files that differ
    python -m lenscribe.settings_schema --check     exit 1 and name the stale files (what the tests do)

Run in a checkout (``--root`` names another).  Generated:

- ``client-vscode/package.json``: ``contributes.configuration.properties`` (every setting: type, default, range,
  enum, order, description, scope) and ``capabilities.untrustedWorkspaces.restrictedConfigurations``;
- ``client-vscode/src/settings.generated.ts``: ``ServerSettings``, ``SERVER_SETTINGS`` (key, kind, range) and the
  restricted setting names, which the hand-written ``settings.ts`` imports;
- ``client-nvim/lenscribe.lua`` and ``docs/neovim.md``: the server settings with their defaults, between the
  ``BEGIN generated`` / ``END generated`` marker lines.

A development tool: the language server never imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lenscribe.settings import SECTION, SETTINGS, Setting, Settings

COMMAND = "python -m lenscribe.settings_schema --write"
PACKAGE_JSON = Path("client-vscode/package.json")
TS_FILE = Path("client-vscode/src/settings.generated.ts")
LUA_FILE = Path("client-nvim/lenscribe.lua")
NVIM_DOC = Path("docs/neovim.md")

_TS_KIND = {"path": "path", "int": "int", "bool": "bool", "languages": "stringList", "string": "string"}
_TS_TYPE = {"path": "string | null", "int": "number", "bool": "boolean", "languages": "string[] | null",
            "string": "string | null"}


def core_languages() -> tuple[str, ...]:
    """The languages whose grammar is a hard dependency (the optional ones depend on what is installed)."""
    from lenscribe.chunking.languages import LANGUAGES

    return tuple(spec.id for spec in LANGUAGES.values() if spec.optional is None)


def description(s: Setting) -> str:
    return s.description.replace("{languages}", ", ".join(f"`{x}`" for x in core_languages()))


def server_default(s: Setting) -> Any:
    """The server's default (`Settings`), None for a client-only setting."""
    if s.field is None:
        return None
    return getattr(Settings(), s.field)


def client_default(s: Setting) -> Any:
    """The editor's default: the server's, or the value that the client sends as "the server's default"."""
    if s.field is None:
        return s.default
    if s.auto is not None:
        return s.auto
    if s.kind in ("path", "languages", "string"):
        field = next(f for f in dataclasses.fields(Settings) if f.name == s.field)
        if field.default is not None:
            raise ValueError(f"{s.key}: an empty {s.kind} means the server's default, which must be None")
        return [] if s.kind == "languages" else ""
    return server_default(s)


def vscode_property(s: Setting, order: int) -> dict[str, Any]:
    """One entry of package.json's contributes.configuration.properties."""
    prop: dict[str, Any] = {}
    match s.kind:
        case "command":
            prop.update(type="array", items={"type": "string"})
        case "path" | "string":
            prop["type"] = "string"
        case "int":
            prop["type"] = "integer"
        case "bool":
            prop["type"] = "boolean"
        case "languages":
            prop.update(type="array", items={"type": "string", "enum": list(core_languages())}, uniqueItems=True)
        case "choice":
            prop.update(type="string", enum=[value for value, _ in s.choices])
    prop["default"] = client_default(s)
    if s.kind == "int":
        prop["minimum"] = s.auto if s.auto is not None else s.min
        prop["maximum"] = s.max
    prop["order"] = order
    if any(meaning for _, meaning in s.choices):
        prop["enumDescriptions"] = [meaning for _, meaning in s.choices]
    prop["markdownDescription"] = description(s)
    if s.scope is not None:
        prop["scope"] = s.scope
    return prop


def package_json(text: str) -> str:
    """package.json with its settings and restricted settings replaced (everything else kept, key order too)."""
    pkg = json.loads(text)
    pkg["contributes"]["configuration"]["properties"] = {
        f"{SECTION}.{s.key}": vscode_property(s, i) for i, s in enumerate(SETTINGS)
    }
    pkg["capabilities"]["untrustedWorkspaces"]["restrictedConfigurations"] = [
        f"{SECTION}.{s.key}" for s in SETTINGS if s.restricted
    ]
    return json.dumps(pkg, indent=2, ensure_ascii=False) + "\n"


def _ts_key(key: str) -> str:
    return f"'{key}'" if "." in key else key


def _lua_key(key: str) -> str:
    return f'["{key}"]' if "." in key else key


def _ts_number(n: int) -> str:
    return f"{n:_}" if abs(n) >= 10_000 else str(n)


def typescript() -> str:
    server = [s for s in SETTINGS if s.field is not None]
    lines = [
        f"// Generated from server/lenscribe/settings.py by `{COMMAND}`: do not edit.",
        "// The hand-written logic is in settings.ts.",
        "",
        "/**",
        " * The server's configuration (section \"lenscribe\"), as sent in initializationOptions and",
        ' * didChangeConfiguration. The server keeps its current value for a key that is absent, so "empty" settings',
        " * are sent as null (= the server's default) rather than left out.",
        " */",
        "export interface ServerSettings {",
        *(f"  {_ts_key(s.key)}?: {_TS_TYPE[s.kind]};" for s in server),
        "}",
        "",
        "export type Kind = 'path' | 'int' | 'bool' | 'stringList' | 'string';",
        "",
        "export interface SettingSpec {",
        "  key: keyof ServerSettings;",
        "  kind: Kind;",
        "  /** Integer range the server accepts (values are clamped into it). */",
        "  min?: number;",
        "  max?: number;",
        '  /** An integer value meaning "let the server decide" (left out of the payload). */',
        "  auto?: number;",
        "}",
        "",
        "/** Every server setting, its type and range. Order = order in package.json. */",
        "export const SERVER_SETTINGS: ReadonlyArray<SettingSpec> = [",
    ]
    for s in server:
        parts = [f"key: '{s.key}'", f"kind: '{_TS_KIND[s.kind]}'"]
        for name in ("min", "max", "auto"):
            value = getattr(s, name)
            if value is not None:
                parts.append(f"{name}: {_ts_number(value)}")
        lines.append(f"  {{ {', '.join(parts)} }},")
    lines += [
        "];",
        "",
        "/** The settings only the client reads (below `lenscribe.`). */",
        "export const CLIENT_ONLY_SETTINGS: readonly string[] = [",
        *(f"  '{s.key}'," for s in SETTINGS if s.field is None),
        "];",
        "",
        "/** The lenscribe settings that name a program or a path (package.json's restrictedConfigurations). */",
        "export const RESTRICTED_LENSCRIBE_SETTINGS: readonly string[] = [",
        *(f"  '{SECTION}.{s.key}'," for s in SETTINGS if s.restricted),
        "];",
        "",
    ]
    return "\n".join(lines)


def _lua_value(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values(s: Setting) -> str:
    """What a server setting accepts, for people: a range, a path, a list of ids."""
    match s.kind:
        case "int":
            text = f"{s.min}..{s.max}"
            return f"{text}; unset: automatic" if s.auto is not None else text
        case "path":
            return "a path; unset: the server's default"
        case "languages":
            return "a list of language ids; unset: every supported language"
        case "string":
            return "a string; unset: none"
        case _:
            return "true or false"


def lua_settings() -> list[str]:
    rows = [(f"{_lua_key(s.key)} = {_lua_value(server_default(s) if s.auto is None else None)},", _values(s))
            for s in SETTINGS if s.field is not None]
    width = max(len(code) for code, _ in rows)
    return [f"  --   {code.ljust(width)}  -- {values}" for code, values in rows]


def markdown_settings() -> list[str]:
    lines = ["| setting | default | values | meaning |", "| --- | --- | --- | --- |"]
    for s in SETTINGS:
        if s.field is None:
            continue
        default = "automatic" if s.auto is not None else f"`{_lua_value(server_default(s))}`"
        meaning = description(s).replace("|", "\\|")
        lines.append(f"| `{s.key}` | {default} | {_values(s)} | {meaning} |")
    return lines


def replace_block(text: str, body: list[str], path: Path) -> str:
    """``text`` with the lines between its ``BEGIN generated`` and ``END generated`` marker lines replaced."""
    lines = text.split("\n")
    begin = [i for i, line in enumerate(lines) if "BEGIN generated" in line]
    end = [i for i, line in enumerate(lines) if "END generated" in line]
    if len(begin) != 1 or len(end) != 1 or begin[0] > end[0]:
        raise ValueError(f"{path}: expected one 'BEGIN generated' line and one 'END generated' line after it")
    return "\n".join(lines[: begin[0] + 1] + body + lines[end[0] :])


def outputs(root: Path) -> dict[Path, str]:
    """Every generated file (relative to ``root``) with the text it should have."""
    edits: dict[Path, Callable[[str], str]] = {
        PACKAGE_JSON: package_json,
        TS_FILE: lambda _: typescript(),
        LUA_FILE: lambda text: replace_block(text, lua_settings(), LUA_FILE),
        NVIM_DOC: lambda text: replace_block(text, markdown_settings(), NVIM_DOC),
    }
    out = {}
    for path, edit in edits.items():
        current = (root / path).read_text(encoding="utf-8") if (root / path).exists() else ""
        out[path] = edit(current)
    return out


def stale(root: Path) -> list[Path]:
    """The generated files whose committed text differs from what the table generates."""
    return [
        path
        for path, text in outputs(root).items()
        if not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lenscribe.settings_schema", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated files that differ")
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated file differs")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2], help="the checkout")
    args = parser.parse_args(argv)
    root: Path = args.root
    if not (root / PACKAGE_JSON).exists():
        parser.error(f"{root} is not a lenscribe checkout (no {PACKAGE_JSON}); pass --root")
    if args.check:
        paths = stale(root)
        for path in paths:
            print(f"{path}: stale; run `{COMMAND}`", file=sys.stderr)
        return 1 if paths else 0
    for path, text in outputs(root).items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
