"""lenscribe.lsp.server in process (made by lenscribe.lsp.cli.create_server): the features own their state and
stopping the server is a loop over them."""

from __future__ import annotations

import threading

from lenscribe.engine import Engine

# ---------------------------------------------------------------------------------------------------- the server


def test_each_feature_owns_its_state_and_stopping_is_a_loop_over_them():
    """Issue 27: the engine is made with the server; the features keep their own state (debounce timers, the lens
    refresh, the workspace run, the model load) and the server stops them all."""
    import asyncio

    from lenscribe.lsp.cli import create_server
    from lenscribe.lsp.code_lens import LensRefresh
    from lenscribe.lsp.configuration import Configuration
    from lenscribe.lsp.documents import DocumentSync
    from lenscribe.lsp.workspace_run import WorkspaceRun

    async def main():
        ls = create_server()
        assert isinstance(ls.engine, Engine) and ls.settings is ls.engine.settings
        assert {type(s) for s in ls.states.values()} >= {Configuration, DocumentSync, LensRefresh, WorkspaceRun}
        loop = asyncio.get_running_loop()
        debounce = ls.state(DocumentSync).debounce["file:///a.py"] = loop.call_later(60, lambda: None)
        refresh = ls.state(LensRefresh).handle = loop.call_later(60, lambda: None)
        run = ls.state(WorkspaceRun)
        run.cancel = threading.Event()
        run.task = asyncio.ensure_future(asyncio.sleep(60))
        ls.shutdown_engine()
        assert debounce.cancelled() and refresh.cancelled() and run.cancel.is_set()
        assert not ls.state(DocumentSync).debounce
        await asyncio.sleep(0)
        assert run.task.cancelled() and ls.closed

    asyncio.run(main())
