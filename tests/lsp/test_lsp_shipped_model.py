"""End to end with no model configured: the server picks the shipped default model and its summaries reach the
editor."""

from __future__ import annotations

from pathlib import Path

from lsp_support import base_options, hover, hover_summary, lenses, open_doc, wait_idle, wait_until

from lenscribe.evaluation.metrics import is_degenerate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.py"


async def test_no_model_setting_means_the_shipped_model(lsp_client, tmp_path, monkeypatch):
    monkeypatch.delenv("LENSCRIBE_MODEL_DIR", raising=False)
    options = base_options("", tmp_path / "cache")
    del options["modelDir"]
    client = await lsp_client(options)
    text = EXAMPLE.read_text()
    lines = text.splitlines()
    uri = open_doc(client, tmp_path / "inventory.py", text)
    at = next(i for i, line in enumerate(lines) if line.startswith("def total_price"))
    h = await hover(client, uri, at + 1, 8)
    summary = hover_summary(h)
    assert summary and not is_degenerate(summary)
    assert "`total_price`" in h.contents.value
    s = await wait_idle(client, timeout=60)
    assert s["model"]["state"] == "ready" and s["model"]["id"].startswith("lenscribe-small@")
    await wait_until(client, lambda s: client.lens_refreshes >= 1, what="a codeLens refresh")
    titles = [lens.command.title for lens in await lenses(client, uri)]
    assert len(titles) == 7  # load_items, total_price, Inventory and its four methods
    assert all(t and not is_degenerate(t) for t in titles), titles
    assert summary.split("\n")[0] + " · generated" in titles
