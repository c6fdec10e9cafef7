"""The engine's summarizer backend, as one value (``BackendSlot``): the ``BackendSummarizer`` of the configured
OpenAI-compatible server, the scheduler its requests run on (``maxConcurrent`` workers, one chunk per job, cancelling
reaches requests in flight), and the chunks that fell back to the local model during this server run.

Caching: the server's summaries live under ``summary_id`` (backend kind, model, prompt id) and the chunk hash; a
fallback summary is the local model's and lives under the local model's id, remembered here (per server run) as the
chunk's stand-in, marked. A chunk that fell back is asked of the server again after a restart or a settings change.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from lenscribe.backend import LOCAL_FALLBACK, BackendConfig, BackendRequest, BackendSummarizer, Written
from lenscribe.cache import SummaryCache
from lenscribe.scheduling import Priority, Scheduler, Ticket

log = logging.getLogger(__name__)

__all__ = ["BackendSlot", "USES"]

USES = ("lenses", "summarize_file", "workspace", "regenerate")  # Settings.backend_<use>: where the backend is used


class BackendSlot:
    def __init__(self, config: BackendConfig, *, local: Callable[[], Any], local_id: Callable[[], str | None],
                 on_results: Callable[[list[tuple[Any, str]]], None],
                 on_errors: Callable[[list[tuple[Any, BaseException]]], None]) -> None:
        self.config = config
        self.summarizer = BackendSummarizer(config, local=local, local_id=local_id)
        self.summary_id = self.summarizer.summary_id
        self.name = config.model
        # one thread per allowed request (plus the hover lane; the client's semaphore bounds what is in flight)
        self.scheduler = Scheduler(self.summarizer.summarize, workers=config.max_concurrent, batch_size=1,
                                   on_results=lambda results: on_results(self.results(results)),
                                   on_errors=on_errors, name="lenscribe-backend", cancel_running=True)
        self._lock = threading.Lock()
        self.fallbacks: dict[str, tuple[str, str | None]] = {}  # chunk hash -> (local summary id, why)

    @classmethod
    def configure(cls, old: BackendSlot | None, settings: Any, **hooks: Any) -> BackendSlot | None:
        """The slot for ``settings``: ``old`` when its endpoint is the same, else a new one (``old`` shut down), or
        None when no backend is configured."""
        config = BackendConfig.from_settings(settings)
        if (old.config if old is not None else None) == config:
            return old
        if old is not None:
            old.shutdown(wait=False)
        if config is None:
            return None
        slot = cls(config, **hooks)
        log.info("summarizer backend: %s at %s (summaries under %s)", config.model, config.url, slot.summary_id)
        return slot

    def submit(self, chunk: Any, priority: Priority, owner: Any = None, generation: int = 0,
               also: tuple[Priority, Any, int] | None = None) -> Ticket:  # also: Scheduler.submit's
        key = (self.summary_id, chunk.hash)
        request = BackendRequest(chunk.text, chunk.language, chunk.kind,
                                 alive=functools.partial(self.scheduler.wanted, key))
        return self.scheduler.submit(key, request, priority, owner=owner, generation=generation, also=also)

    def results(self, results: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
        """The scheduler's results as (cache key, summary) to store: a fallback under the local model's id
        (remembered as the chunk's stand-in), the server's under ``summary_id``."""
        out = []
        for (summary_id, chunk_hash), text in results:
            local_id = getattr(text, "summary_id", None)
            if summary_id == self.summary_id and local_id is not None:
                with self._lock:
                    self.fallbacks[chunk_hash] = (local_id, getattr(text, "reason", None))
                out.append(((local_id, chunk_hash), str(text)))
            else:
                with self._lock:
                    self.fallbacks.pop(chunk_hash, None)
                out.append(((summary_id, chunk_hash), str(text)))
        return out

    def cached(self, cache: SummaryCache, hashes: list[str]) -> dict[str, str]:
        """The summaries the chunks show: the server's (``Written`` by the model) or a fallback (marked)."""
        found: dict[str, str] = {h: Written(t, self.name) for h, t in cache.get_many(self.summary_id, hashes).items()}
        with self._lock:
            stand_ins = {h: self.fallbacks[h] for h in hashes if h not in found and h in self.fallbacks}
        by_id: dict[str, list[str]] = {}
        for h, (local_id, _why) in stand_ins.items():
            by_id.setdefault(local_id, []).append(h)
        for local_id, hs in by_id.items():
            for h, t in cache.get_many(local_id, hs).items():
                found[h] = Written(t, LOCAL_FALLBACK, summary_id=local_id, reason=stand_ins[h][1])
        return found

    def regenerate(self, chunk: Any, cache: SummaryCache, pinned: set) -> Written:
        """The server's summary of one chunk, asked again (blocking; raises BackendError: no fallback here), stored
        as its summary; ``pinned`` keeps queued results from overwriting it."""
        key = (self.summary_id, chunk.hash)
        pinned.add(key)
        try:
            text = self.summarizer.ask(BackendRequest(chunk.text, chunk.language, chunk.kind))
        except BaseException:
            pinned.discard(key)
            raise
        cache.put_many(self.summary_id, [(chunk.hash, text)])
        with self._lock:
            self.fallbacks.pop(chunk.hash, None)
        return Written(text, self.name)

    def stats(self) -> dict[str, Any]:
        return {**self.summarizer.stats(), "queue": self.scheduler.snapshot(), "fallback_chunks": len(self.fallbacks)}

    def shutdown(self, wait: bool = True, timeout: float = 10.0) -> bool:
        self.scheduler.shutdown(wait=False)
        self.summarizer.stop()  # requests in flight end now
        return self.scheduler.shutdown(wait=wait, timeout=timeout) if wait else False
