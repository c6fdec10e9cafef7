"""Settings (``lenscribe.*``) and what follows them: the engine, the model it loads, re-chunking, lens refreshes.

Settings come from ``initializationOptions``, else from ``workspace/configuration`` once the client is initialized,
and again with each ``workspace/didChangeConfiguration`` (its settings when it carries the ``lenscribe`` section,
else pulled).  A bad value is replaced by its default with one warning.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from lenscribe.engine import Engine
from lenscribe.lsp import code_lens, documents, workspace_run
from lenscribe.lsp.server import LenscribeServer
from lenscribe.settings import SECTION, Settings, parse_settings, section_of

log = logging.getLogger(__name__)

__all__ = ["apply_configuration", "pull_configuration", "register", "start", "start_bundle_import",
           "start_model_load"]


def start(ls: LenscribeServer, init_options: Any) -> None:
    """At ``initialize``: the settings from ``initializationOptions`` (their warnings shown once initialized), the
    engine, and the model load in the background."""
    ls.had_init_options = section_of(init_options) is not None
    ls.settings, warnings = parse_settings(init_options, Settings())
    ls.pending_warnings += warnings
    ls.engine = Engine(ls.settings, on_summaries=lambda uris: code_lens.request_lens_refresh_threadsafe(ls))
    start_model_load(ls)
    start_bundle_import(ls)


def start_bundle_import(ls: LenscribeServer) -> None:
    """LENSCRIBE_CACHE_BUNDLE's bundles go into the cache on a worker thread: a large one never holds initialize."""
    ls.spawn(import_bundles(ls))


async def import_bundles(ls: LenscribeServer) -> None:
    assert ls.engine is not None and ls.loop is not None
    done = await ls.loop.run_in_executor(ls.io_pool, ls.engine.import_bundles)
    if done:
        ls.log_to_client("lenscribe: imported " + ", ".join(
            f"{r.info.path} ({r.added} summaries added)" for r in done))
        code_lens.request_lens_refresh(ls)  # their summaries can be shown now


def start_model_load(ls: LenscribeServer) -> None:
    ls.model_task = ls.spawn(load_model(ls))


async def load_model(ls: LenscribeServer) -> None:
    assert ls.engine is not None and ls.loop is not None
    e = ls.engine
    error = await ls.loop.run_in_executor(ls.io_pool, e.load_model)
    if error:
        ls.show_error_once(f"lenscribe: model unavailable: {error}. Summaries are off until lenscribe.modelDir "
                           "points to a working model (build one with `lenscribe model build`).")
    else:
        m = e.model
        ls.log_to_client(f"lenscribe: model {m.summary_id} loaded from {m.dir} in {m.load_seconds:.2f}s")
        e.schedule_all()
    code_lens.request_lens_refresh(ls)  # cached summaries can be shown now (or pending titles dropped)
    workspace_run.maybe_start_workspace(ls)


async def pull_configuration(ls: LenscribeServer) -> None:
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)]))
    except Exception as e:  # noqa: BLE001 - the client may not answer it
        log.info("workspace/configuration failed: %s", e)
        return
    if result and isinstance(result[0], dict) and result[0]:
        await apply_configuration(ls, {SECTION: result[0]})


async def apply_configuration(ls: LenscribeServer, raw: Any) -> None:
    assert ls.engine is not None
    new, warnings = parse_settings(raw, ls.settings)
    if warnings:
        ls.show("\n".join(warnings))
    old, ls.settings = ls.settings, new
    todo = ls.engine.apply_settings(new)
    if todo["reload_model"]:
        start_model_load(ls)
    if todo["rechunk"]:
        for uri in list(ls.engine.docs):
            await documents.fresh_document(ls, uri, force=True)
    if new.cache_dir != old.cache_dir:
        start_bundle_import(ls)
    if new.cache_dir != old.cache_dir or todo["reschedule"]:
        ls.engine.schedule_all()
    if (new.lenses != old.lenses or todo["rechunk"] or new.cache_dir != old.cache_dir or todo["reschedule"]
            or new.grounding_check != old.grounding_check):
        code_lens.request_lens_refresh(ls)
    if new.workspace_on_open and not old.workspace_on_open:
        workspace_run.maybe_start_workspace(ls)


# ------------------------------------------------------------------------------------------------ the handlers


async def did_change_configuration(ls: LenscribeServer, params: types.DidChangeConfigurationParams) -> None:
    if section_of(params.settings) is not None:
        await apply_configuration(ls, params.settings)
    elif ls.client_supports("workspace.configuration"):
        await pull_configuration(ls)


def register(server: LenscribeServer) -> None:
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
