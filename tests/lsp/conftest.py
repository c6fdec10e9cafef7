"""Fixtures for the language server tests (helpers live in ``lsp_support.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def summary_of(tiny_pairs) -> Callable[[str], str]:
    table = dict(tiny_pairs)
    return lambda code: table[code]
