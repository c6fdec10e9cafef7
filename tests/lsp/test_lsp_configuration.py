"""lenscribe.lsp.configuration in process: new settings reach the one settings object and the features that
subscribed to the change."""

from __future__ import annotations

from lenscribe.settings import Settings


def test_new_settings_reach_the_one_settings_object_and_the_features_that_subscribed(tmp_path):
    """Issue 27: configuration changes the engine's settings (the server's are the same object) and publishes the
    change; the documents feature re-chunks on it, the workspace run starts on it."""
    import asyncio

    from lenscribe.lsp import configuration, workspace_run
    from lenscribe.lsp.cli import create_server
    from lenscribe.lsp.server import SETTINGS_CHANGED

    async def main():
        ls = create_server()
        ls.loop = asyncio.get_running_loop()
        heard = []
        ls.subscribe(SETTINGS_CHANGED, lambda old, new, todo: heard.append((old.debounce_ms, new.debounce_ms,
                                                                           todo["rechunk"])))
        started = []
        workspace_run.maybe_start_workspace = lambda server: started.append(server)  # restored below
        try:
            first = {"workspaceOnOpen": False, "cacheDir": str(tmp_path / "cache")}
            await configuration.apply_configuration(ls, {"lenscribe": first})
            await configuration.apply_configuration(ls, {"lenscribe": {**first, "debounceMs": 50, "maxFileLines": 10,
                                                                       "workspaceOnOpen": True}})
        finally:
            workspace_run.maybe_start_workspace = original
        assert ls.settings is ls.engine.settings and ls.settings.debounce_ms == 50
        assert heard == [(Settings().debounce_ms, Settings().debounce_ms, False), (Settings().debounce_ms, 50, True)]
        assert started == [ls]  # workspaceOnOpen turned on
        ls.shutdown_engine(wait=True)

    original = workspace_run.maybe_start_workspace
    asyncio.run(main())
