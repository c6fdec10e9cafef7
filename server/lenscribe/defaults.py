"""Where things live by default: the shipped model (and which model directory to load) and the user's cache
directory."""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

import platformdirs

MODEL_ENV = "LENSCRIBE_MODEL_DIR"
CACHE_ENV = "LENSCRIBE_CACHE_DIR"
DEFAULT_MODEL_NAME = "lenscribe-small"


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [
        here.parent.parent / "models" / DEFAULT_MODEL_NAME,  # a source checkout / editable install
        Path(sys.prefix) / "share" / "lenscribe" / "models" / DEFAULT_MODEL_NAME,  # a wheel install (data-files)
        # pip install --user: data-files go under the user base
        Path(site.getuserbase()) / "share" / "lenscribe" / "models" / DEFAULT_MODEL_NAME,
    ]


def default_model_dir() -> Path:
    """The model to use when none is configured: $LENSCRIBE_MODEL_DIR, else the model shipped with lenscribe."""
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env).expanduser()
    for path in _candidates():
        if (path / "manifest.json").is_file():
            return path
    return _candidates()[0]


def resolve_model_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The model directory to load, resolved here alone (the language server's ``lenscribe.modelDir``, the CLIs'
    ``--model``): the configured one with ``~`` expanded, else ``default_model_dir()``."""
    if configured is None or not os.fspath(configured):
        return default_model_dir()
    return Path(configured).expanduser()


def user_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("lenscribe", appauthor=False))
