"""Settings (``lenscribe.*``): the engine takes them (``Engine.settings``, the one settings object), and the model they
name loads; the features that care subscribe to the change (``SETTINGS_CHANGED``: documents re-chunk, lenses refresh,
the workspace run starts) and to the model's load (``MODEL_LOADED``).

Settings come from ``initializationOptions``, else from ``workspace/configuration`` once the client is initialized,
and again with each ``workspace/didChangeConfiguration`` (its settings when it carries the ``lenscribe`` section,
else pulled).  A bad value is replaced by its default with one warning.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from lenscribe.lsp.server import MODEL_LOADED, SETTINGS_CHANGED, SUMMARIES_ADDED, FeatureState, LenscribeServer
from lenscribe.settings import SECTION, Settings, parse_settings, section_of

log = logging.getLogger(__name__)

__all__ = ["Configuration", "apply_configuration", "pull_configuration", "register", "start", "start_bundle_import",
           "start_model_load"]


class Configuration(FeatureState):
    """Where the settings came from, the warnings to show once the client is initialized, and the model load."""

    def __init__(self, server: LenscribeServer) -> None:
        super().__init__(server)
        self.had_init_options = False
        self.pending_warnings: list[str] = []  # shown once the client is initialized
        self.model_task: asyncio.Task | None = None


def start(ls: LenscribeServer, init_options: Any) -> None:
    """At ``initialize``: the settings from ``initializationOptions`` (their warnings shown once initialized) go to the
    engine made with the server (its configured cache opens), and the model loads in the background."""
    state = ls.state(Configuration)
    state.had_init_options = section_of(init_options) is not None
    settings, warnings = parse_settings(init_options, Settings())
    state.pending_warnings += warnings
    ls.engine.apply_settings(settings)
    start_model_load(ls)
    start_bundle_import(ls)


def start_bundle_import(ls: LenscribeServer) -> None:
    """LENSCRIBE_CACHE_BUNDLE's bundles go into the cache on a worker thread: a large one never holds initialize."""
    ls.spawn(import_bundles(ls))


async def import_bundles(ls: LenscribeServer) -> None:
    assert ls.loop is not None
    done = await ls.loop.run_in_executor(ls.io_pool, ls.engine.import_bundles)
    if done:
        ls.log_to_client("lenscribe: imported " + ", ".join(
            f"{r.info.path} ({r.added} summaries added)" for r in done))
        await ls.publish(SUMMARIES_ADDED)  # their summaries can be shown now


def start_model_load(ls: LenscribeServer) -> None:
    ls.state(Configuration).model_task = ls.spawn(load_model(ls))


async def load_model(ls: LenscribeServer) -> None:
    assert ls.loop is not None
    e = ls.engine
    error = await ls.loop.run_in_executor(ls.io_pool, e.load_model)
    if error:
        ls.show_error_once(f"lenscribe: model unavailable: {error}. Summaries are off until lenscribe.modelDir "
                           "points to a working model (build one with `lenscribe model build`).")
    else:
        m = e.model
        ls.log_to_client(f"lenscribe: model {m.summary_id} loaded from {m.dir} in {m.load_seconds:.2f}s")
        e.schedule_all()
    await ls.publish(MODEL_LOADED)  # cached summaries can be shown now (or pending titles dropped); work can start


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
    """New settings: the engine takes them (the one settings object), the model reloads and the cache's bundles are
    imported when they say so; then the features that subscribed to ``SETTINGS_CHANGED`` do their part (documents
    re-chunk, lenses refresh, the workspace run starts)."""
    old = ls.settings
    new, warnings = parse_settings(raw, old)
    if warnings:
        ls.show("\n".join(warnings))
    todo = ls.engine.apply_settings(new)
    if todo["reload_model"]:
        start_model_load(ls)
    await ls.publish(SETTINGS_CHANGED, old, new, todo)
    if new.cache_dir != old.cache_dir:
        start_bundle_import(ls)
    if new.cache_dir != old.cache_dir or todo["reschedule"]:
        ls.engine.schedule_all()


# ------------------------------------------------------------------------------------------------ the handlers


async def did_change_configuration(ls: LenscribeServer, params: types.DidChangeConfigurationParams) -> None:
    if section_of(params.settings) is not None:
        await apply_configuration(ls, params.settings)
    elif ls.client_supports("workspace.configuration"):
        await pull_configuration(ls)


def register(server: LenscribeServer) -> None:
    server.add_state(Configuration(server))
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
