"""The settings table (lenscribe.settings.SETTINGS) is the one source of the clients' settings: the generated files
are committed as the table writes them, and the table agrees with the server's `Settings` and its checks."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from lenscribe import settings_schema
from lenscribe.settings import _FIELDS, SERVER_SETTINGS, SETTINGS, Settings, parse_settings

REPO = Path(__file__).resolve().parents[1]


def test_generated_files_are_up_to_date():
    stale = [str(p) for p in settings_schema.stale(REPO)]
    assert not stale, (
        f"generated from server/lenscribe/settings.py but stale: {', '.join(stale)}. "
        f"Run `.venv/bin/python -m lenscribe.settings_schema --write` and commit the result."
    )


def test_check_command_agrees():
    assert settings_schema.main(["--check", "--root", str(REPO)]) == 0


def test_stale_output_is_reported_and_rewritten(tmp_path, capsys):
    for path in settings_schema.outputs(REPO):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, tmp_path / path)
    pkg = json.loads((tmp_path / settings_schema.PACKAGE_JSON).read_text())
    pkg["contributes"]["configuration"]["properties"]["lenscribe.batchSize"]["maximum"] = 65
    (tmp_path / settings_schema.PACKAGE_JSON).write_text(json.dumps(pkg, indent=2))
    (tmp_path / settings_schema.TS_FILE).unlink()
    lua = tmp_path / settings_schema.LUA_FILE
    lua.write_text(lua.read_text().replace("batchSize = 32", "batchSize = 33"))

    assert set(settings_schema.stale(tmp_path)) == {
        settings_schema.PACKAGE_JSON,
        settings_schema.TS_FILE,
        settings_schema.LUA_FILE,
    }
    assert settings_schema.main(["--check", "--root", str(tmp_path)]) == 1
    assert "python -m lenscribe.settings_schema --write" in capsys.readouterr().err
    assert settings_schema.main(["--write", "--root", str(tmp_path)]) == 0
    assert settings_schema.stale(tmp_path) == []
    for path in settings_schema.outputs(REPO):
        assert (tmp_path / path).read_text() == (REPO / path).read_text(), path


def test_missing_markers_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="BEGIN generated"):
        settings_schema.replace_block("no markers here\n", ["x"], Path("f.lua"))


def test_table_covers_every_settings_field_once():
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert [s.field for s in SERVER_SETTINGS] == fields, "one table row per Settings field, in the field order"
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))
    assert list(_FIELDS) == [s.key for s in SERVER_SETTINGS]


def test_client_only_settings_have_client_kinds_and_defaults():
    for s in SETTINGS:
        if s.field is None:
            assert s.default is not None, s.key
        else:
            assert s.kind in ("path", "int", "bool", "languages", "string"), s.key
            assert s.default is None, f"{s.key}: a server setting's default is its Settings field's"
        if s.kind == "int":
            assert s.min is not None and s.max is not None and s.min <= s.max, s.key
        if s.kind == "choice":
            assert s.default in [value for value, _ in s.choices], s.key


@pytest.mark.parametrize("s", [s for s in SERVER_SETTINGS if s.kind == "int"], ids=lambda s: s.key)
def test_integer_ranges_are_the_servers_checks(s):
    assert s.min is not None and s.max is not None
    for ok in (s.min, s.max):
        parsed, warnings = parse_settings({s.key: ok})
        assert warnings == [] and getattr(parsed, s.field or "") == ok
    for bad in (s.min - 1, s.max + 1):
        parsed, warnings = parse_settings({s.key: bad})
        assert len(warnings) == 1 and f"expected {s.min}..{s.max}" in warnings[0]
        assert getattr(parsed, s.field or "") == getattr(Settings(), s.field or "")
    if s.auto is not None:
        assert not s.min <= s.auto <= s.max, f"{s.key}: the client's 'automatic' value is never sent to the server"


def test_vscode_defaults_map_to_the_servers():
    props = json.loads((REPO / settings_schema.PACKAGE_JSON).read_text())["contributes"]["configuration"]["properties"]
    assert list(props) == [f"lenscribe.{s.key}" for s in SETTINGS]
    defaults = Settings()
    for s in SERVER_SETTINGS:
        default = props[f"lenscribe.{s.key}"]["default"]
        if s.auto is not None:
            assert default == s.auto
        elif s.kind in ("path", "languages", "string"):
            assert default in ("", []) and getattr(defaults, s.field or "") is None  # empty: the server's default
        else:
            assert default == getattr(defaults, s.field or ""), s.key


def test_languages_enum_is_the_core_languages():
    from lenscribe.chunking import supported_languages

    core = settings_schema.core_languages()
    assert set(core) <= set(supported_languages())
    assert "python" in core and "kotlin" not in core  # optional grammars depend on the installation
