"""lenscribe.settings: the editor's settings parsed into ``Settings``, odd values falling back to the defaults with one
warning each. The settings table against the clients' generated files: test_settings_schema.py."""

from __future__ import annotations

import pytest

from lenscribe.settings import Settings, parse_settings

# ---------------------------------------------------------------------------------------------------- settings


def test_settings_defaults_and_values():
    s, warnings = parse_settings({"lenscribe": {"workers": 2, "debounceMs": 50, "languages": ["Python", "go"],
                                              "lenses": False, "cacheDir": "~/x", "modelDir": None}})
    assert warnings == []
    assert (s.workers, s.debounce_ms, s.languages, s.lenses) == (2, 50, ("python", "go"), False)
    assert s.cache_dir.endswith("/x") and "~" not in s.cache_dir and s.model_dir is None
    flat, _ = parse_settings({"hoverTimeoutMs": 10})  # the section itself
    assert flat.hover_timeout_ms == 10
    same, warnings = parse_settings(None, s)
    assert same is s and warnings == []
    back, warnings = parse_settings({"lenscribe": {"debounceMs": None, "languages": None}}, s)  # null: the default
    assert back.debounce_ms == Settings().debounce_ms and back.languages is None and warnings == []


def test_bad_settings_fall_back_to_defaults_with_one_warning_each():
    base = Settings(debounce_ms=10)
    s, warnings = parse_settings({"lenscribe": {"workers": 0, "debounceMs": "fast", "languages": ["klingon"],
                                              "maxFileBytes": True, "lenses": 1, "nope": 3}}, base)
    d = Settings()
    assert (s.workers, s.debounce_ms, s.languages, s.max_file_bytes, s.lenses) == (
        d.workers, d.debounce_ms, None, d.max_file_bytes, d.lenses)
    assert len(warnings) == 6
    assert any("klingon" in w for w in warnings) and any("lenscribe.nope" in w for w in warnings)
    _, warnings = parse_settings(["not", "an", "object"])
    assert warnings


@pytest.mark.parametrize("odd", [2.5, "2", float("nan"), float("inf"), -float("inf"), 10**400, [2], {"n": 2}],
                         ids=["2.5", "str", "nan", "inf", "-inf", "10**400", "list", "object"])
def test_an_odd_number_is_one_warning_and_the_default_and_the_other_keys_still_apply(odd):
    """JSON-RPC payloads are parsed by ``json.loads``, which reads ``Infinity`` and ``NaN``: infinity raised
    OverflowError out of parse_settings (and out of initialize), losing every other setting of the payload."""
    s, warnings = parse_settings({"lenscribe": {"workers": odd, "debounceMs": 50}})
    assert s.workers == Settings().workers and s.debounce_ms == 50
    assert len(warnings) == 1 and warnings[0].startswith("lenscribe.workers: ")
    assert "is not valid (expected " in warnings[0] and warnings[0].endswith(f"using the default {Settings().workers}")


def test_integral_floats_are_integers_and_languages_are_a_list_or_one_string():
    s, warnings = parse_settings({"lenscribe": {"workers": 2.0, "languages": "Go", "cacheDir": ""}})
    assert warnings == [] and s.workers == 2 and isinstance(s.workers, int)
    assert s.languages == ("go",) and s.cache_dir is None
    s, warnings = parse_settings({"lenscribe": {"languages": ["go", "Go", "PYTHON"]}})
    assert warnings == [] and s.languages == ("go", "python")
