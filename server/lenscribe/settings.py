"""The server's settings (section ``lenscribe``): parsing and validation, no LSP.

Settings arrive as ``initializationOptions`` and with ``workspace/didChangeConfiguration`` (or are pulled with
``workspace/configuration``), either as ``{"lenscribe": {...}}`` or as the section itself.  Every bad value is reported
in one warning and falls back to its default; unknown keys are reported too; nothing raises.

``SETTINGS`` is the one table of every setting the editor clients show (the server's and the client-only ones): key,
kind, range, description.  ``python -m lenscribe.settings_schema --write`` generates the clients' copies from it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["SECTION", "SERVER_SETTINGS", "SETTINGS", "Setting", "Settings", "default_workers", "parse_settings"]

SECTION = "lenscribe"


def default_workers() -> int:
    """1 worker on small machines (<= 4 cores), else 2: each worker's model run uses cores / workers threads."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if cores <= 4 else 2


@dataclass(frozen=True)
class Settings:
    model_dir: str | None = None  # None: lenscribe.defaults.default_model_dir()
    workers: int = field(default_factory=default_workers)
    batch_size: int = 32
    debounce_ms: int = 300
    languages: tuple[str, ...] | None = None  # allow-list; None: every supported language
    min_chunk_lines: int = 2
    lenses: bool = True
    workspace_on_open: bool = True
    workspace_max_files: int = 10_000  # a workspace run reads at most this many files ...
    workspace_max_bytes: int = 256 * 1024 * 1024  # ... of at most this many bytes in all ...
    workspace_max_seconds: int = 3600  # ... and stops after this long
    cache_dir: str | None = None  # None: lenscribe.defaults.user_cache_dir()
    hover_timeout_ms: int = 2000
    max_file_bytes: int = 1_000_000
    max_file_lines: int = 20_000
    max_chunk_chars: int = 6000  # a chunk's text is cut to this many characters (the model reads ~512 tokens)
    lens_refresh_ms: int = 500  # at most one workspace/codeLens/refresh per this interval
    beams: int = 1  # 1: greedy decoding; more: a beam search of that width (better summaries, ~linearly slower)
    prefer_docstrings: bool = True  # a documented chunk shows its docstring's first sentence; the model the rest
    grounding_check: bool = True  # a generated summary naming what the code never mentions is withheld
    # an OpenAI-compatible server that summarizes instead of the local model (lenscribe.backend); None: local only
    backend_url: str | None = None
    backend_model: str | None = None
    backend_api_key_env: str | None = None  # the environment variable holding the API key
    backend_max_concurrent: int = 2
    backend_timeout_ms: int = 30_000
    backend_lenses: bool = True  # lenses and hovers
    backend_summarize_file: bool = True
    backend_workspace: bool = False
    backend_workspace_max_requests: int = 200  # a workspace run that would send more uses the local model, warning
    backend_regenerate: bool = True

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _int(lo: int, hi: int):
    def check(v: Any) -> int:
        # NaN and the infinities: json.loads reads them, and int() of them raises (OverflowError for infinity)
        if (isinstance(v, bool) or not isinstance(v, (int, float))
                or (isinstance(v, float) and not math.isfinite(v)) or int(v) != v):
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


def _text(v: Any) -> str | None:
    if v is None or v == "":
        return None
    if not isinstance(v, str) or not v.strip():
        raise ValueError("expected a string")
    return v.strip()


def _url(v: Any) -> str | None:
    import urllib.parse

    text = _text(v)
    if text is None:
        return None
    u = urllib.parse.urlsplit(text)
    if u.scheme not in ("http", "https") or not u.hostname or u.query or u.fragment:
        raise ValueError("expected an http:// or https:// base URL such as http://127.0.0.1:8080/v1")
    try:
        u.port  # noqa: B018 - raises for a bad port
    except ValueError as err:
        raise ValueError(f"bad port: {err}") from None
    return text.rstrip("/")


def _env_name(v: Any) -> str | None:
    import re

    text = _text(v)
    if text is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise ValueError("expected the name of an environment variable (the key itself never goes in settings)")
    return text


# ------------------------------------------------------------------------------------------------------ the table
# Every `lenscribe.*` setting of the editor clients, in the order VS Code shows them.  The one source of their names,
# kinds, ranges and descriptions: `python -m lenscribe.settings_schema --write` writes them into the VS Code
# extension's package.json and src/settings.generated.ts, the Neovim client's comment and docs/neovim.md
# (tests/test_settings_schema.py fails when one of those is stale).  A server setting's default is its `Settings`
# field's.

Kind = Literal["path", "int", "bool", "languages", "command", "choice", "string"]


@dataclass(frozen=True)
class Setting:
    key: str  # below "lenscribe.", e.g. "batchSize" or "server.command"
    kind: Kind  # "command" (a list of strings) and "choice" (one of `choices`) are for client-only settings
    description: str  # markdown; "{languages}" stands for the supported languages' ids
    field: str | None = None  # the `Settings` field; None: a client-only setting, never sent to the server
    min: int | None = None  # an integer's range (the server rejects, the client clamps values outside it)
    max: int | None = None
    auto: int | None = None  # the client's value for "the server decides" (its default; never sent)
    choices: tuple[tuple[str, str], ...] = ()  # a "choice" setting's values and what each means
    default: Any = None  # a client-only setting's default (a server setting's is the `Settings` field's)
    scope: str | None = None  # VS Code's `scope` (machine-overridable, window, ...)
    restricted: bool = False  # names a program, a path or a server: in an untrusted workspace only the user's value
    # counts
    check: Any = None  # a "string" setting's validator (text -> value; raises ValueError)


_EXPANDED = "`~` and `${workspaceFolder}` are expanded."
_BACKEND = ("Only in a trusted workspace does a workspace's own value count (a repository must not choose where its"
            " code is sent).")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "server.command",
        "command",
        "The full command line that starts the language server, e.g. `[\"/home/me/.venv/bin/lenscribe\", \"serve\"]`."
        " Wins over `#lenscribe.server.pythonPath#`. Empty: found automatically (see `#lenscribe.server.pythonPath#`).",
        default=[],
        scope="machine-overridable",
        restricted=True,
    ),
    Setting(
        "server.pythonPath",
        "path",
        "A Python whose environment has the `lenscribe` package; the server runs as `<python> -m lenscribe serve`."
        " Empty: the first of the workspace's `.venv`/`venv`, `python.defaultInterpreterPath`, a `lenscribe`"
        " executable on PATH, or `python3` on PATH that can import lenscribe.",
        default="",
        scope="machine-overridable",
        restricted=True,
    ),
    Setting(
        "modelDir",
        "path",
        f"The model directory (with `manifest.json`). Empty: the model shipped with lenscribe. {_EXPANDED}",
        field="model_dir",
        scope="machine-overridable",
        restricted=True,
    ),
    Setting(
        "workers",
        "int",
        "Inference worker threads; the CPU cores are split between them. `0`: automatic (1 on machines with up to 4"
        " cores, else 2).",
        field="workers",
        min=1,
        max=16,
        auto=0,
    ),
    Setting("batchSize", "int", "Functions summarized together in one model run.", field="batch_size", min=1, max=64),
    Setting(
        "debounceMs",
        "int",
        "Milliseconds to wait after an edit before summarizing the changed functions again.",
        field="debounce_ms",
        min=0,
        max=10_000,
    ),
    Setting(
        "languages",
        "languages",
        "Languages to summarize ({languages}). Empty: every supported language.",
        field="languages",
    ),
    Setting(
        "minChunkLines",
        "int",
        "Functions and classes shorter than this many lines get no summary.",
        field="min_chunk_lines",
        min=1,
        max=1000,
    ),
    Setting("lenses", "bool", "Show each summary as a code lens above its function or class.", field="lenses"),
    Setting(
        "workspaceOnOpen",
        "bool",
        "Summarize the whole workspace in the background when it opens (fills the cache).",
        field="workspace_on_open",
    ),
    Setting(
        "workspaceMaxFiles",
        "int",
        "A workspace run summarizes at most this many files (the first in path order); its progress and the log say"
        " where it stopped.",
        field="workspace_max_files",
        min=1,
        max=10_000_000,
    ),
    Setting(
        "workspaceMaxBytes",
        "int",
        "A workspace run reads at most this many bytes of files in all, then stops (its progress and the log say so).",
        field="workspace_max_bytes",
        min=1,
        max=1 << 40,
    ),
    Setting(
        "workspaceMaxSeconds",
        "int",
        "A workspace run stops after this many seconds (its progress and the log say so); the summaries it made stay"
        " in the cache. A workspace folder that is a disk root or the home directory is never summarized on open,"
        " only with **Lenscribe: Summarize Workspace**.",
        field="workspace_max_seconds",
        min=1,
        max=7 * 24 * 3600,
    ),
    Setting(
        "cacheDir",
        "path",
        f"Where the summary cache lives. Empty: the user cache directory. {_EXPANDED}",
        field="cache_dir",
        scope="machine-overridable",
        restricted=True,
    ),
    Setting(
        "hoverTimeoutMs",
        "int",
        "How long a hover waits for a summary that is not cached yet before answering without it.",
        field="hover_timeout_ms",
        min=0,
        max=120_000,
    ),
    Setting(
        "maxFileBytes", "int", "Files larger than this are not summarized.", field="max_file_bytes", min=1, max=1 << 31
    ),
    Setting(
        "maxFileLines",
        "int",
        "Files with more lines than this are not summarized.",
        field="max_file_lines",
        min=1,
        max=10_000_000,
    ),
    Setting(
        "maxChunkChars",
        "int",
        "A function's text is cut to this many characters before the model reads it.",
        field="max_chunk_chars",
        min=100,
        max=1_000_000,
    ),
    Setting(
        "lensRefreshMs",
        "int",
        "The server asks for a code-lens refresh at most once per this many milliseconds.",
        field="lens_refresh_ms",
        min=0,
        max=60_000,
    ),
    Setting(
        "beams",
        "int",
        "`1`: greedy decoding, the fastest. More: a beam search of that width, which writes somewhat better summaries"
        " and takes about that many times longer. Each width keeps its own cached summaries.",
        field="beams",
        min=1,
        max=8,
    ),
    Setting(
        "preferDocstrings",
        "bool",
        "A function or class with its own docstring or doc comment shows that text's first sentence, marked as the"
        " author's; the model summarizes only undocumented ones (its text is marked as generated). Off: the model"
        " summarizes everything.",
        field="prefer_docstrings",
    ),
    Setting(
        "groundingCheck",
        "bool",
        "A generated summary that names things the code never mentions (a word in no identifier, string or comment"
        " of the function, e.g. \"Add a user to the guild.\" over an inventory's `add`) is withheld: the function's"
        " name is shown as a sentence instead, marked `from the name`, and the hover says which words gave the"
        " summary away. Off: every generated summary is shown.",
        field="grounding_check",
    ),
    Setting(
        "backend.url",
        "string",
        "An OpenAI-compatible server that writes the summaries instead of the shipped model: the API's base URL, e.g."
        " `http://127.0.0.1:8080/v1` (llama.cpp's server), `http://127.0.0.1:11434/v1` (Ollama),"
        " `http://127.0.0.1:1234/v1` (LM Studio), `http://127.0.0.1:8000/v1` (vLLM). Set it and"
        " `#lenscribe.backend.model#`; the code of each function summarized is sent to this server and nowhere else."
        " The shipped model stays the fallback for every chunk the server fails. Empty: the shipped model only, no"
        f" network. {_BACKEND}",
        field="backend_url",
        scope="machine-overridable",
        restricted=True,
        check=_url,
    ),
    Setting(
        "backend.model",
        "string",
        "The model name the server is asked for (`model` of the request, e.g. `qwen2.5-coder:1.5b` for Ollama);"
        f" summaries are cached per model and marked with its name. {_BACKEND}",
        field="backend_model",
        scope="machine-overridable",
        restricted=True,
        check=_text,
    ),
    Setting(
        "backend.apiKeyEnv",
        "string",
        "The name of an environment variable (of the server's process) holding the API key, sent as"
        f" `Authorization: Bearer`. Never the key itself. Empty: no key. {_BACKEND}",
        field="backend_api_key_env",
        scope="machine-overridable",
        restricted=True,
        check=_env_name,
    ),
    Setting(
        "backend.maxConcurrent",
        "int",
        f"At most this many requests to the backend at a time. {_BACKEND}",
        field="backend_max_concurrent",
        min=1,
        max=64,
        restricted=True,
    ),
    Setting(
        "backend.timeoutMs",
        "int",
        "A request that has not been answered completely within this many milliseconds is ended and the chunk is"
        f" summarized by the shipped model (marked as the fallback). {_BACKEND}",
        field="backend_timeout_ms",
        min=100,
        max=600_000,
        restricted=True,
    ),
    Setting(
        "backend.lenses",
        "bool",
        f"Lenses and hovers show the backend's summaries. {_BACKEND}",
        field="backend_lenses",
        restricted=True,
    ),
    Setting(
        "backend.summarizeFile",
        "bool",
        f"**Lenscribe: Summarize File** uses the backend. {_BACKEND}",
        field="backend_summarize_file",
        restricted=True,
    ),
    Setting(
        "backend.workspace",
        "bool",
        "The workspace run (**Summarize Workspace**, `#lenscribe.workspaceOnOpen#`) uses the backend: one request per"
        f" function not cached yet. {_BACKEND}",
        field="backend_workspace",
        restricted=True,
    ),
    Setting(
        "backend.workspaceMaxRequests",
        "int",
        "A workspace run that would send more requests than this to the backend warns and uses the shipped model"
        f" instead. {_BACKEND}",
        field="backend_workspace_max_requests",
        min=0,
        max=10_000_000,
        restricted=True,
    ),
    Setting(
        "backend.regenerate",
        "bool",
        "The code action **Regenerate with <model>** asks the backend (off: a beam search of the shipped model)."
        f" {_BACKEND}",
        field="backend_regenerate",
        restricted=True,
    ),
    Setting(
        "outline.openAs",
        "choice",
        "How **Lenscribe: Summarize File** shows the outline.",
        choices=(
            ("document", "An untitled markdown document beside the editor"),
            ("preview", "The markdown preview beside the editor"),
            ("both", "Both"),
        ),
        default="document",
    ),
    Setting(
        "trace.server",
        "choice",
        "Log the LSP traffic between VS Code and the server (Output › Lenscribe).",
        choices=(("off", ""), ("messages", ""), ("verbose", "")),
        default="off",
        scope="window",
    ),
)

SERVER_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.field is not None)


def _check(setting: Setting) -> Any:
    match setting.kind:
        case "path":
            return _path
        case "bool":
            return _bool
        case "languages":
            return _languages
        case "string" if setting.check is not None:
            return setting.check
        case "int" if setting.min is not None and setting.max is not None:
            return _int(setting.min, setting.max)
    raise TypeError(f"no server check for the {setting.kind} setting {setting.key}")


# camelCase key -> (field, validator)
_FIELDS: dict[str, tuple[str, Any]] = {s.key: (s.field, _check(s)) for s in SERVER_SETTINGS if s.field is not None}


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


def _flat(section: Mapping[str, Any]) -> dict[str, Any]:
    """Nested objects as dotted keys: ``{"backend": {"url": u}}`` (VS Code's whole section, a Neovim table) is
    ``{"backend.url": u}``."""
    out: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, Mapping) and key not in _FIELDS:
            out.update(_flat({f"{key}.{sub}": v for sub, v in value.items()}))
        else:
            out[key] = value
    return out


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
    for key, value in _flat(section).items():
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
