"""What the language server knows about documents and summaries, without any LSP: the one-way pipeline

    document text -> chunks -> cache look-up -> inference queue (Scheduler) -> results -> cache -> listeners

The protocol layer (``lenscribe.lsp``) calls these methods and turns their answers into LSP messages.  Blocking methods
(``load_model``, ``update_document``, ``read_document``) are meant for worker threads; the rest are quick.  The model
is one ``ModelSlot`` (``lenscribe.model_slot``); a workspace run goes through ``lenscribe.workspace``.  A hover, a
code action or Summarize File asks for a chunk's summary with one call, ``ask`` (``lenscribe.summary_requests``).
Texts and files become chunks only through ``lenscribe.sources`` (``ReadOptions.from_settings``).
Results land on scheduler threads, are written to the cache, then ``on_summaries(uris)`` says which open documents
got new summaries (the server refreshes code lenses).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lenscribe.backend_slot import BackendSlot
from lenscribe.bundle import BUNDLE_ENV, ImportResult, import_env_bundles
from lenscribe.cache import SummaryCache
from lenscribe.chunking.lines import split_lines
from lenscribe.defaults import resolve_model_dir, user_cache_dir
from lenscribe.document import Document
from lenscribe.model_slot import ModelSlot, ModelUnavailable, load_summarizer, open_model
from lenscribe.open_documents import OpenDocuments
from lenscribe.render import Summary
from lenscribe.scheduling import Priority, Scheduler, Ticket
from lenscribe.settings import Settings
from lenscribe.sources import ReadOptions, Source, read_file, read_text
from lenscribe.summary_requests import Ask, SummaryRequests

if TYPE_CHECKING:
    from lenscribe.modelfiles import ModelFiles

log = logging.getLogger(__name__)

__all__ = ["Document", "Engine", "ModelSlot", "ModelUnavailable"]


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        on_summaries: Callable[[set[str]], None] | None = None,
        load_summarizer: Callable[[ModelFiles, int], Any] = load_summarizer,
        open_cache: bool = True,
    ) -> None:
        self.settings = settings
        self.on_summaries = on_summaries
        self._load_summarizer = load_summarizer  # (opened model files, workers) -> summarizer: tests pass a fake
        self._lock = threading.RLock()
        # open_cache=False: in memory only until the first apply_settings (a server made before it has its settings)
        self.cache = self._open_cache(settings.cache_dir) if open_cache else SummaryCache.open(None)
        self._cache_opened = open_cache
        self.scheduler = Scheduler(None, workers=settings.workers, batch_size=settings.batch_size,
                                   on_results=self._on_results, on_errors=self._on_errors)
        self.failures: dict[tuple[str, str], str] = {}  # (summary id, chunk hash) -> why its summary failed
        self.model = ModelSlot()  # replaced whole (under _lock) as the model loads, fails or is let go
        self.documents = OpenDocuments()  # what the editor has open, chunked, and the lines in view
        self.counters: dict[str, int] = {"hovers": 0, "hover_timeouts": 0, "hover_cache_hits": 0, "lenses": 0,
                                         "rechunks": 0, "summaries_delivered": 0}
        # (summary id, chunk hash) a user regenerated (``regenerate``): queued greedy results do not overwrite it
        self.pinned: set[tuple[str, str]] = set()
        self.backend: BackendSlot | None = None  # the OpenAI-compatible server of lenscribe.backend.url, if any
        self._configure_backend(settings)
        self.requests = SummaryRequests(self)  # ask()

    def _configure_backend(self, settings: Settings) -> bool:  # True: another backend (re-queue open documents)
        old, self.backend = self.backend, BackendSlot.configure(
            self.backend, settings, local=self._local_summarize, local_id=lambda: self.model.summary_id,
            on_results=self._on_results, on_errors=self._on_errors)
        return self.backend is not old

    def _local_summarize(self) -> Callable[[list[str]], list[str]] | None:  # a backend's fallback; None: loading
        if (m := self.model).error:
            raise ModelUnavailable(m.error)
        return m.summarizer.summarize if m.state == "ready" and m.summarizer is not None else None

    # ------------------------------------------------------------------------------------------------ model

    @staticmethod
    def _open_cache(cache_dir: str | None) -> SummaryCache:
        """The cache alone: LENSCRIBE_CACHE_BUNDLE's bundles come later, off the caller's path (``import_bundles``)."""
        try:
            return SummaryCache.open(cache_dir or user_cache_dir())
        except Exception:  # never let the cache stop the server
            log.exception("summary cache unusable; keeping summaries in memory only")
            return SummaryCache.open(None)

    def import_bundles(self) -> list[ImportResult]:
        """Import LENSCRIBE_CACHE_BUNDLE's bundles the cache has not taken yet (blocking: a worker thread's job, after
        the cache opened; a large bundle takes seconds). Never raises: a bad bundle is a logged warning."""
        if not os.environ.get(BUNDLE_ENV):
            return []
        try:
            return import_env_bundles(self.cache)
        except Exception:  # noqa: BLE001 - a cache closed meanwhile (settings changed, shutdown)
            log.warning("%s: import stopped", BUNDLE_ENV, exc_info=True)
            return []

    def load_model(self) -> str | None:
        """Load the configured model (blocking); returns None, or the error message a user should see."""
        from lenscribe.modelfiles import ModelError

        model_dir = resolve_model_dir(self.settings.model_dir)
        with self._lock:
            reloading = self.model.summary_id is not None
            self.model = ModelSlot(state="loading", dir=model_dir)
            self.scheduler.set_summarize(None)
        if reloading:  # queued jobs carry the old summary id in their keys: drop them (open documents re-queue)
            self.scheduler.fail_all(ModelUnavailable("the model is being replaced"))
        started = time.perf_counter()
        try:
            files = open_model(model_dir, self.settings.beams)  # quick: the id serves cached summaries at once
            with self._lock:
                self.model = replace(self.model, summary_id=files.summary_id)
            self.requests.model_known()  # asks waiting for the id: from the cache, or queued (they wait for the load)
            summarizer = self._load_summarizer(files, self.settings.workers)
        except ModelError as e:
            return self._model_failed(str(e))
        except Exception as e:  # onnxruntime, tokenizers, OS errors: all mean "unavailable"
            log.exception("loading the model from %s failed", model_dir)
            return self._model_failed(f"cannot load the model from {model_dir}: {e}")
        with self._lock:
            self.model = m = replace(self.model, state="ready", summarizer=summarizer,
                                     load_seconds=time.perf_counter() - started)
            self.scheduler.set_summarize(summarizer.summarize)
        log.info("model %s loaded from %s in %.2fs", m.summary_id, model_dir, m.load_seconds)
        return None

    def _model_failed(self, message: str) -> str:
        with self._lock:
            self.model = replace(self.model, state="error", summarizer=None, error=message)
        self.scheduler.fail_all(ModelUnavailable(message))
        self.requests.model_known()
        log.error("model unavailable: %s", message)
        return message

    # ------------------------------------------------------------------------------------------------ documents

    def read_options(self) -> ReadOptions:
        return ReadOptions.from_settings(self.settings)

    def make_document(self, uri: str, path: str | None, text: str, version: int | None,
                      language_id: str | None = None, keep_lines: bool = False) -> Document:
        """Chunk a text into a Document under the current settings (blocking; nothing is installed or queued)."""
        options = self.read_options()
        doc = self._document(uri, read_text(text, options, path=path, language_id=language_id), version, options)
        if keep_lines and doc.chunks:
            doc.lines = split_lines(text)  # LSP's lines, as the chunks' positions count them
        return doc

    def read_document(self, uri: str, path: str | Path) -> Document:
        """Read a file that is not open from disk and chunk it into a Document (blocking; nothing installed)."""
        options = self.read_options()
        return self._document(uri, read_file(path, options), None, options)

    @staticmethod
    def _document(uri: str, src: Source, version: int | None, options: ReadOptions) -> Document:
        if src.skipped:
            log.debug("%s: no summaries: %s", uri, src.skipped)
        return Document(uri=uri, path=src.path, language=src.language, version=version, chunks=src.chunks,
                        skipped=src.skipped, docs=options.docs)

    def update_document(self, uri: str, path: str | None, text: str, version: int | None,
                        language_id: str | None = None, keep_lines: bool = False) -> Document:
        """Chunk an open document's text, install it and queue its uncached chunks (blocking: off the event loop).

        Each call is a new generation of the document: queued work for chunks that are gone is withdrawn, chunks
        that kept their hash keep their place (and are cache hits once done).
        """
        doc = self.make_document(uri, path, text, version, language_id, keep_lines)
        installed = self.documents.install(doc)
        if installed is not doc:
            return installed  # an older text finished chunking late
        with self._lock:
            self.counters["rechunks"] += 1
        self.schedule_document(doc)
        return doc

    def schedule_document(self, doc: Document) -> int:
        """Queue the uncached chunks (visible ones first), drop stale work; how many queued."""
        backend = self.backend if self.uses_backend("lenses") else None
        if backend is not None:
            self.scheduler.cancel_stale(doc.uri, doc.generation + 1)  # what the local model had queued for it
        m = self.model
        summary_id = backend.summary_id if backend is not None else m.summary_id
        if summary_id is None or (backend is None and not m.can_summarize):
            return 0
        cached = self.cached_summaries(doc.chunks)
        queued = 0
        seen: set[str] = set()
        for chunk in sorted(doc.chunks, key=lambda c: not doc.is_visible(c)):
            if chunk.hash in cached or chunk.hash in seen or (summary_id, chunk.hash) in self.failures:
                continue  # a chunk that failed is not retried on every edit (a hover asks again)
            if self.authored(chunk) is not None:
                continue  # it shows its own docstring
            seen.add(chunk.hash)
            prio = Priority.VISIBLE if doc.is_visible(chunk) else Priority.OPEN
            if backend is not None:
                backend.submit(chunk, prio, owner=doc.uri, generation=doc.generation)
            else:
                self.scheduler.submit((summary_id, chunk.hash), chunk.text, prio, owner=doc.uri,
                                      generation=doc.generation)
            queued += 1
        # requests for chunks edited away end, also those in flight to a backend
        for sched in self._schedulers():
            sched.cancel_stale(doc.uri, doc.generation)
        return queued

    def _schedulers(self) -> list[Scheduler]:
        return [self.scheduler, *([self.backend.scheduler] if self.backend else [])]

    def schedule_all(self) -> None:
        for doc in self.documents.all():
            self.schedule_document(doc)

    def close_document(self, uri: str) -> None:
        self.documents.close(uri)
        self.cancel_owner(uri)

    def cancel_owner(self, owner: Any) -> None:  # withdraw every request of ``owner``, local or to the backend
        for sched in self._schedulers():
            sched.cancel_owner(owner)

    def set_visible(self, uri: str, ranges: Iterable[tuple[int, int]]) -> None:
        """The lines in view (a client extension tells us): their chunks go first."""
        if (doc := self.documents.set_visible(uri, ranges)) is None:
            return
        if (summary_id := self.summary_id_for("lenses")) is not None:
            keys = [(summary_id, c.hash) for c in doc.chunks if doc.is_visible(c)]
            sched = self.backend.scheduler if self.backend is not None and self.uses_backend() else self.scheduler
            sched.reprioritize(uri, keys, Priority.VISIBLE)

    # ------------------------------------------------------------------------------------------------ summaries

    # a chunk's summary and whose it is: lenscribe.summary_requests (ask for one with a single call)

    def uses_backend(self, use: str = "lenses") -> bool:  # lenses, summarize_file, workspace, regenerate; or local
        return self.requests.uses_backend(use)

    def summary_id_for(self, use: str = "lenses") -> str | None:  # what ``use``'s summaries are cached under
        return self.requests.summary_id_for(use)

    def writer(self, use: str = "lenses") -> str | None:  # who writes them: the backend's model or the local id
        return self.requests.writer(use)

    @property
    def can_summarize(self) -> bool:  # a model is loaded or loading (queued work waits for it), or a backend is used
        return self.requests.can_summarize

    def authored(self, chunk) -> str | None:  # the docstring's first sentence when docstrings are preferred
        return self.requests.authored(chunk)

    def summary(self, chunk, cached: dict[str, str] | None = None, use: str = "lenses") -> Summary | None:
        return self.requests.summary(chunk, cached, use)

    def generated(self, chunk, text: str) -> Summary:  # ``text`` as shown (the grounding check)
        return self.requests.generated(chunk, text)

    def cached_summary(self, chunk, use: str = "lenses") -> str | None:
        return self.requests.cached_summaries([chunk], use).get(chunk.hash)

    def cached_summaries(self, chunks: list, use: str = "lenses") -> dict[str, str]:
        return self.requests.cached_summaries(chunks, use)

    def lens_summaries(self, chunks: list) -> dict[str, str]:  # a code lens request's cached summaries (counted)
        return self.requests.lens_summaries(chunks)

    def failure(self, chunk, use: str = "lenses") -> str | None:  # why its summary failed (current model), or None
        return self.requests.failure(chunk, use)

    def ask(self, chunk, purpose: str, uri: str, generation: int = 0, **how: Any) -> Ask:
        """A chunk's summary for a hover, a code action, Summarize File: now or a ticket (summary_requests)."""
        return self.requests.ask(chunk, purpose, uri, generation, **how)

    def request(self, chunk, priority: Priority, owner: Any = None, generation: int = 0,
                use: str = "lenses") -> Ticket | None:  # a ticket for the chunk's summary; None: no model
        return self.requests.request(chunk, priority, owner, generation, use)

    def regenerate(self, chunk, beams: int, timeout: float | None = None) -> str:
        """A beam-search summary of one chunk (blocking), stored as its summary under the current decoding id and
        under the beam decoding's own id; queued results of the current decoding no longer overwrite it. With a backend
        used for regenerating, its model is asked again instead (no fallback: its error is the answer)."""
        if self.backend is not None and self.uses_backend("regenerate"):
            written = self.backend.regenerate(chunk, self.cache, self.pinned)
            self.failures.pop((self.backend.summary_id, chunk.hash), None)
            self.counters["regenerated"] = self.counters.get("regenerated", 0) + 1
            return written
        from lenscribe.summarizer import Summarizer

        m = self.model
        current, summary_id = m.summarizer, m.summary_id
        if current is None or summary_id is None or m.state != "ready":
            raise ModelUnavailable(m.error or "the model is not loaded yet")
        options = replace(current.options, num_beams=beams)
        beam = Summarizer(current.manifest, current.generator, current.tokenizer, options)  # shares the sessions
        self.pinned.add((summary_id, chunk.hash))
        try:
            summary = beam.summarize([chunk.text], timeout=timeout)[0]
        except BaseException:
            self.pinned.discard((summary_id, chunk.hash))
            raise
        self.cache.put_many(summary_id, [(chunk.hash, summary)])
        self.cache.put_many(beam.summary_id, [(chunk.hash, summary)])
        self.counters["regenerated"] = self.counters.get("regenerated", 0) + 1
        return summary

    def _on_errors(self, errors: list[tuple[Any, BaseException]]) -> None:
        """Scheduler threads: chunks whose summary failed. Their lenses must not stay pending: remember why (not for
        a shutdown or a model being replaced), then tell which open documents they belong to."""
        from lenscribe.backend import Cancelled
        from lenscribe.scheduling import SchedulerClosed

        hashes = set()
        with self._lock:
            for key, err in errors:
                if isinstance(err, (SchedulerClosed, ModelUnavailable, TimeoutError, Cancelled)):
                    continue
                self.failures[key] = f"{type(err).__name__}: {err}"
                hashes.add(key[1])
        self._tell_documents(hashes)

    def _on_results(self, results: list[tuple[Any, str]]) -> None:
        """Scheduler threads: store new summaries, then tell which open documents they belong to."""
        if self.pinned:  # a user's regenerated summary stays
            results = [r for r in results if r[0] not in self.pinned]
        by_id: dict[str, list[tuple[str, str]]] = {}
        for (summary_id, chunk_hash), summary in results:
            by_id.setdefault(summary_id, []).append((chunk_hash, summary))
        for summary_id, items in by_id.items():
            self.cache.put_many(summary_id, items)
        hashes = {h for _, items in by_id.items() for h, _ in items}
        with self._lock:
            for key, _summary in results:
                self.failures.pop(key, None)
            self.counters["summaries_delivered"] += len(results)
        self._tell_documents(hashes)

    def _tell_documents(self, hashes: set[str]) -> None:
        """``on_summaries`` of the open documents with a chunk of these hashes (a summary or a failure is new)."""
        uris = self.documents.containing(hashes)
        if uris and self.on_summaries is not None:
            try:
                self.on_summaries(uris)
            except Exception:  # a broken listener must not lose results
                log.exception("on_summaries listener failed")

    # ------------------------------------------------------------------------------------------------ settings

    def apply_settings(self, new: Settings) -> dict[str, bool]:
        """Take new settings; returns what the caller must redo: reload the model, re-chunk open documents."""
        old, self.settings = self.settings, new
        if new.workers != old.workers:
            self.scheduler.set_workers(new.workers)
        if new.batch_size != old.batch_size:
            self.scheduler.batch_size = new.batch_size
        if new.cache_dir != old.cache_dir or not self._cache_opened:
            old_cache, self.cache = self.cache, self._open_cache(new.cache_dir)
            self._cache_opened = True
            old_cache.close()
        backend_changed = self._configure_backend(new)
        return {
            # another backend, or the lenses switched between it and the local model: re-queue open documents
            "reschedule": backend_changed or new.backend_lenses != old.backend_lenses,
            "reload_model": (new.model_dir != old.model_dir or new.beams != old.beams
                             or new.workers != old.workers and self.model.summarizer is None),
            # the limits, the chunking options, and docs (looked for only while preferDocstrings is on)
            "rechunk": ReadOptions.from_settings(new) != ReadOptions.from_settings(old),
        }

    # ------------------------------------------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        sched = self.scheduler.snapshot()
        m = self.model
        docs = {d.uri: {"language": d.language, "version": d.version, "generation": d.generation,
                        "chunks": len(d.chunks), "skipped": d.skipped, "visible": [list(r) for r in d.visible]}
                for d in self.documents.all()}
        return {
            "model": {"state": m.state, "id": m.summary_id, "dir": str(m.dir) if m.dir else None, "error": m.error,
                      "load_seconds": m.load_seconds, "summarizer_runs": getattr(m.summarizer, "runs", 0)},
            "model_runs": sched["batches_run"],  # summarize() calls made by this process
            "chunks_summarized": sched["jobs_run"],  # chunks that went through the model
            "cache": {**self.cache.stats.as_dict(), "memory_only": self.cache.memory_only,
                      "path": str(self.cache.path) if self.cache.path else None, "entries_in_memory": len(self.cache)},
            "queue": sched,
            "documents": docs,
            "counters": dict(self.counters),
            "backend": self.backend.stats() if self.backend is not None else None,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.settings.__dict__.items()},
        }

    def shutdown(self, wait: bool = True, timeout: float = 10.0) -> bool:
        """Stop inference, in order: close the queue, stop the generations in progress (they end at their next
        decoder step), then, with ``wait``, join the threads that run ``InferenceSession.run`` before the sessions and
        the cache are let go. Must be done (``wait``) before the interpreter exits: a thread still inside onnxruntime
        at finalization aborts the process. Idempotent; True when no inference thread is left running."""
        self.scheduler.shutdown(wait=False)
        if self.backend is not None:
            self.backend.shutdown(wait=False)
        self.requests.model_known()  # asks still waiting for the id: queued into the closed queue, so they fail
        summarizer = self.model.summarizer
        if summarizer is not None and hasattr(summarizer, "stop"):
            summarizer.stop()
        if not wait:
            return False
        joined = self.scheduler.shutdown(wait=True, timeout=timeout)
        if self.backend is not None:
            joined = self.backend.shutdown(wait=True, timeout=timeout) and joined
        if joined:
            with self._lock:  # the onnxruntime sessions go once no thread can be running them
                self.model = replace(self.model, summarizer=None)
        else:
            log.warning("inference threads still running after %.0fs", timeout)
        self.cache.close()
        return joined
