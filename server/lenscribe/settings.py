"""The server's settings (section ``lenscribe``): parsing and validation, no LSP.

Settings arrive as ``initializationOptions`` and with ``workspace/didChangeConfiguration`` (or are pulled with
``workspace/configuration``), either as ``{"lenscribe": {...}}`` or as the section itself.  Every bad value is reported
in one warning and falls back to its default; unknown keys are reported too; nothing raises.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SECTION", "Settings", "default_workers", "parse_settings"]

SECTION = "lenscribe"


def default_workers() -> int:
    """1 worker on small machines (<= 4 cores), else 2: each worker's model run uses cores / workers threads."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if cores <= 4 else 2


@dataclass(frozen=True)
class Settings:
    model_dir: str | None = None  # None: lenscribe.defaults.default_model_dir()
    workers: int = field(default_factory=default_workers)
    batch_size: int = 8
    debounce_ms: int = 300
    languages: tuple[str, ...] | None = None  # allow-list; None: every supported language
    min_chunk_lines: int = 2
    lenses: bool = True
    workspace_on_open: bool = True
    cache_dir: str | None = None  # None: lenscribe.defaults.user_cache_dir()
    hover_timeout_ms: int = 2000
    max_file_bytes: int = 1_000_000
    max_file_lines: int = 20_000
    max_chunk_chars: int = 6000  # a chunk's text is cut to this many characters (the model reads ~512 tokens)
    lens_refresh_ms: int = 500  # at most one workspace/codeLens/refresh per this interval
    beams: int = 1  # 1: greedy decoding; more: a beam search of that width (better summaries, ~linearly slower)
    prefer_docstrings: bool = True  # a documented chunk shows its docstring's first sentence; the model the rest

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _int(lo: int, hi: int):
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
            raise ValueError("expected an integer")
        if not lo <= v <= hi:
            raise ValueError(f"expected {lo}..{hi}")
        return int(v)

    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("expected true or false")  # noqa: TRY004 - a bad setting value, reported to the user
    return v


def _path(v: Any) -> str | None:
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise ValueError("expected a path string")  # noqa: TRY004 - a bad setting value, reported to the user
    return os.path.expanduser(os.path.expandvars(v))


def _languages(v: Any) -> tuple[str, ...] | None:
    if v is None:
        return None
    from lenscribe.chunking import supported_languages

    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise ValueError("expected a list of language ids")
    known = set(supported_languages())
    unknown = [x for x in v if x.lower() not in known]
    if unknown:
        raise ValueError(f"unknown language(s) {', '.join(unknown)}; supported: {', '.join(sorted(known))}")
    return tuple(dict.fromkeys(x.lower() for x in v))


# camelCase key -> (field, validator)
_FIELDS: dict[str, tuple[str, Any]] = {
    "modelDir": ("model_dir", _path),
    "workers": ("workers", _int(1, 16)),
    "batchSize": ("batch_size", _int(1, 64)),
    "debounceMs": ("debounce_ms", _int(0, 10_000)),
    "languages": ("languages", _languages),
    "minChunkLines": ("min_chunk_lines", _int(1, 1000)),
    "lenses": ("lenses", _bool),
    "workspaceOnOpen": ("workspace_on_open", _bool),
    "cacheDir": ("cache_dir", _path),
    "hoverTimeoutMs": ("hover_timeout_ms", _int(0, 120_000)),
    "maxFileBytes": ("max_file_bytes", _int(1, 1 << 31)),
    "maxFileLines": ("max_file_lines", _int(1, 10_000_000)),
    "maxChunkChars": ("max_chunk_chars", _int(100, 1_000_000)),
    "lensRefreshMs": ("lens_refresh_ms", _int(0, 60_000)),
    "beams": ("beams", _int(1, 8)),
    "preferDocstrings": ("prefer_docstrings", _bool),
}


def section_of(raw: Any) -> Mapping[str, Any] | None:
    """The ``lenscribe`` section of a settings payload, or None when there is none."""
    if not isinstance(raw, Mapping):
        return None
    inner = raw.get(SECTION)
    if isinstance(inner, Mapping):
        return inner
    if any(k in _FIELDS for k in raw):
        return raw
    return None


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from a payload (keys absent keep ``base``'s values; bad ones take the defaults) and the warnings."""
    base = base or Settings()
    defaults = Settings()
    section = section_of(raw)
    if section is None:
        if raw not in (None, {}) and not isinstance(raw, Mapping):
            return base, [f"lenscribe settings: expected an object, got {type(raw).__name__}; using the defaults"]
        return base, []
    changes: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in section.items():
        if key not in _FIELDS:
            warnings.append(f"lenscribe.{key}: unknown setting, ignored")
            continue
        name, check = _FIELDS[key]
        if value is None:  # null: the default
            changes[name] = getattr(defaults, name)
            continue
        try:
            changes[name] = check(value)
        except ValueError as e:
            default = getattr(defaults, name)
            warnings.append(f"lenscribe.{key}: {value!r} is not valid ({e}); using the default {default!r}")
            changes[name] = default
    return base.replace(**changes), warnings
