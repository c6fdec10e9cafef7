"""lenscribe.chunking.parsers: a parser per thread, the same chunks from many threads at once, and the deadline: a
streamed parse and a sliced query give the same chunks, a parse past its time stops, and a long parse lets other
threads run."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chunking_samples import SNIPPETS, _summary
from lenscribe.chunking import (
    chunk_text,
    treesitter,
)

# ------------------------------------------------------------------------------------------------ threads


def test_parsers_are_per_thread():
    mine = treesitter.get_parser("python")
    assert treesitter.get_parser("python") is mine
    other = []
    t = threading.Thread(target=lambda: other.append(treesitter.get_parser("python")))
    t.start()
    t.join()
    assert other[0] is not mine


def test_concurrent_use_gives_the_same_results():
    jobs = [(SNIPPETS[lang], lang) for lang in sorted(SNIPPETS)] * 4
    expected = [_summary(chunk_text(src, lang)) for src, lang in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda job: _summary(chunk_text(*job)), jobs))
    assert got == expected


def _big(language: str, size: int) -> str:
    snippet = SNIPPETS[language]
    return "\n".join([snippet] * (size // len(snippet) + 1))


@pytest.mark.parametrize("language", ["python", "javascript", "rust", "go", "cpp"])
def test_a_deadline_streams_the_parse_and_slices_the_query_without_changing_the_chunks(language, monkeypatch):
    from lenscribe.chunking import parsers

    text = _big(language, 40_000)
    plain = chunk_text(text, language, docs=True)
    monkeypatch.setattr(parsers, "STREAM_BYTES", 1000)  # the streamed parse and the sliced query on a small text
    monkeypatch.setattr(treesitter, "QUERY_SLICE", 777)
    assert chunk_text(text, language, docs=True, timeout=600) == plain
    assert len(plain) > 100


def test_chunking_past_its_timeout_raises_and_leaves_the_parser_usable():
    from lenscribe.chunking import ChunkingTimeout

    text = _big("javascript", 600_000)  # over parsers.STREAM_BYTES: the parse itself stops
    with pytest.raises(ChunkingTimeout, match="chunking took over 0s"):
        chunk_text(text, "javascript", timeout=0)
    small = SNIPPETS["javascript"]
    assert chunk_text(small, "javascript", timeout=600) == chunk_text(small, "javascript")  # the parser was reset


def test_a_long_parse_lets_other_threads_run():
    """tree-sitter holds the GIL while it parses: 20 MB of minified JS stopped the server's event loop for 36 s.
    With a deadline a large text is parsed through the progress callback, which lets other threads run."""
    from lenscribe.chunking import parsers

    data = _big("javascript", 3_000_000).encode()
    ticks: list[int] = []
    parsing = threading.Event()
    done = threading.Event()

    def tick() -> None:
        parsing.wait()
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        parsing.set()
        time.sleep(0.01)
        before = len(ticks)
        tree = parsers.parse(data, "javascript", deadline=time.monotonic() + 600)
        during = len(ticks) - before
    finally:
        done.set()
        t.join()
    assert tree.root_node.end_byte == len(data)
    assert during >= 10, during
