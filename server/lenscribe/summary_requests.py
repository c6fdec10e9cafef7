"""A chunk's summary through the engine's parts: what it shows (its docstring's sentence, the cached summary after the
grounding check), whose it is (the local model or the summarizer backend), a ticket in the queue, and the one call
for it (issue 27): ``Engine.ask(chunk, purpose, uri, generation)`` answers with what there is now (the cached text,
the docstring's sentence, or why there is none) or a ticket to await, for each of

* ``HOVER``: what a hover shows (``summary``: a ``render.Summary``; the ticket resolves to one), counted in the
  engine's counters (hovers, cache hits, hovers that timed out);
* ``ACTION``: the model's text for a code action (insert as docstring, copy), computed when not cached;
* ``FILE``: the text for Summarize File (``use`` "summarize_file": the summarizer backend when so configured);
* ``PREFETCH``: nothing to await: an uncached chunk goes ahead of the document's others (at visible priority).

While the model's summary id is not known yet (the load has not read the manifest) a ticket waits for it: the engine
calls ``SummaryRequests.model_known()`` once the id is there or the load failed, and the waiting asks are answered
from the cache or queued then.  A hover or action keeps its chunk queued at open-document priority, so a ticket that
times out (or is cancelled) still gets the chunk summarized.  The protocol layer never sees the queue: no priority,
no scheduler, no counters.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Protocol

from lenscribe.backend_slot import BackendSlot
from lenscribe.cache import SummaryCache
from lenscribe.grounding import check
from lenscribe.model_slot import ModelSlot, ModelUnavailable
from lenscribe.render import DOCSTRING, GENERATED, NAME, NO_SUMMARY, Summary
from lenscribe.scheduling import Priority, Scheduler, Ticket
from lenscribe.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["ACTION", "FILE", "HOVER", "PREFETCH", "Ask", "SummaryRequests"]

HOVER, ACTION, FILE, PREFETCH = "hover", "action", "file", "prefetch"
# purpose -> (priority of its ticket, the engine's use: whose summaries, lenscribe.backend.*)
_PURPOSES: dict[str, tuple[Priority, str]] = {
    HOVER: (Priority.HOVER, "lenses"),
    ACTION: (Priority.HOVER, "lenses"),
    FILE: (Priority.VISIBLE, "summarize_file"),
    PREFETCH: (Priority.VISIBLE, "lenses"),
}


class Engine(Protocol):
    """What this module reads of ``lenscribe.engine.Engine`` (which creates it: no import back, no circle)."""

    settings: Settings
    cache: SummaryCache
    backend: BackendSlot | None
    model: ModelSlot
    scheduler: Scheduler
    failures: dict[tuple[str, str], str]
    counters: dict[str, int]


@functools.lru_cache(maxsize=8192)
def _first_sentence(doc: str) -> str:
    from lenscribe.chunking import first_sentence

    return first_sentence(doc)


# every code lens request checks every chunk of the document (~0.2 ms each, mostly splitting the code into words):
# once per (summary, code, name) instead
_checked = functools.lru_cache(maxsize=8192)(check)


@dataclass(eq=False)
class Ask:
    """The answer to ``Engine.ask``: ``text`` (the cached model text) or ``summary`` (a hover's: what it shows) when
    there is one now; else ``ticket`` to await (a ``Future`` of the text, a hover's of its ``Summary``); else ``note``
    (a hover's words for why there is none) and, when there is no model to ask, ``error`` (``ModelUnavailable``).
    ``loading``: the ticket still waits for the model's id."""

    chunk: Any
    text: str | None = None
    summary: Summary | None = None
    ticket: Future | None = None
    note: str | None = None
    error: ModelUnavailable | None = None
    loading: bool = False
    timeout: float | None = None  # how long to await the ticket (a hover: hoverTimeoutMs)
    deadline: float | None = field(default=None, repr=False)


class SummaryRequests:
    """A chunk's summary through the engine's parts (settings, cache, backend or local model, queue, failures):
    what it shows, whose it is, and ``ask``, with the asks waiting for the model id.  The engine's summary methods
    delegate here; a hover's or an action's whole way runs in this module."""

    def __init__(self, engine: Engine) -> None:
        self._e = engine
        self._lock = threading.Lock()
        self._waiting: list[tuple[Ask, str, str, int, Any]] = []  # (ask, purpose, uri, generation, owner)

    def uses_backend(self, use: str = "lenses") -> bool:  # lenses, summarize_file, workspace, regenerate; or local
        return self._e.backend is not None and bool(getattr(self._e.settings, f"backend_{use}", False))

    def summary_id_for(self, use: str = "lenses") -> str | None:  # what ``use``'s summaries are cached under
        return self._e.backend.summary_id if self._e.backend and self.uses_backend(use) else self._e.model.summary_id

    def writer(self, use: str = "lenses") -> str | None:  # who writes them: the backend's model or the local id
        return self._e.backend.name if self._e.backend and self.uses_backend(use) else self._e.model.summary_id

    @property
    def can_summarize(self) -> bool:  # a model is loaded or loading (queued work waits for it), or a backend is used
        return self.uses_backend("lenses") or self._e.model.can_summarize

    def authored(self, chunk) -> str | None:
        """The first sentence of the chunk's own docstring or doc comment when docstrings are preferred (the
        author's words beat a guess), else None: only such chunks skip the model."""
        doc = getattr(chunk, "doc", None)
        if not self._e.settings.prefer_docstrings or not doc:
            return None
        return _first_sentence(doc) or None

    def summary(self, chunk, cached: dict[str, str] | None = None, use: str = "lenses") -> Summary | None:
        """What the chunk shows: its docstring's sentence, the model's cached summary (grounding-checked) or None."""
        if (text := self.authored(chunk)) is not None:
            return Summary(text, DOCSTRING)
        text = cached.get(chunk.hash) if cached is not None else self.cached_summary(chunk, use)
        return None if text is None else self.generated(chunk, text)

    def generated(self, chunk, text: str) -> Summary:
        """``text`` as shown: with ``groundingCheck`` on and a word the code never mentions, the name rule's sentence
        instead (lenscribe.grounding); a backend's ``Written`` text is marked with its writer and not checked (it
        withheld 33 of 36 right summaries of a 1.5B code LLM on a blind reading: DATA_CARD.md, "The teacher")."""
        by = getattr(text, "written_by", None)
        if self._e.settings.grounding_check and (by is None or getattr(text, "fallback", False)):
            checked = _checked(str(text), chunk.text, chunk.qualname)
            if checked.withheld:
                return Summary(checked.text or NO_SUMMARY, NAME, checked.withheld, model=by)
        return Summary(str(text), GENERATED, model=by, note=getattr(text, "reason", None))

    def cached_summary(self, chunk, use: str = "lenses") -> str | None:
        return self.cached_summaries([chunk], use).get(chunk.hash)

    def cached_summaries(self, chunks: list, use: str = "lenses") -> dict[str, str]:
        hashes = [c.hash for c in chunks]
        if self._e.backend is not None and self.uses_backend(use):
            return self._e.backend.cached(self._e.cache, hashes)
        summary_id = self._e.model.summary_id
        return {} if summary_id is None else self._e.cache.get_many(summary_id, hashes)

    def lens_summaries(self, chunks: list) -> dict[str, str]:  # a code lens request's cached summaries (counted)
        self._e.counters["lenses"] += 1
        return self.cached_summaries(chunks)

    def failure(self, chunk, use: str = "lenses") -> str | None:  # why its summary failed (current model), or None
        summary_id = self.summary_id_for(use)
        return None if summary_id is None else self._e.failures.get((summary_id, chunk.hash))

    def request(self, chunk, priority: Priority, owner: Any = None, generation: int = 0, use: str = "lenses",
                also: tuple[Priority, Any, int] | None = None) -> Ticket | None:
        """A ticket for the chunk's summary, or None when there is no model to compute it (``also``: a second request
        that keeps the job queued, ``Scheduler.submit``)."""
        if self._e.backend is not None and self.uses_backend(use):
            return self._e.backend.submit(chunk, priority, owner=owner, generation=generation, also=also)
        m = self._e.model
        if m.summary_id is None or not m.can_summarize:
            return None
        return self._e.scheduler.submit((m.summary_id, chunk.hash), chunk.text, priority, owner=owner,
                                        generation=generation, also=also)

    # ------------------------------------------------------------------------------------------------ ask

    def ask(self, chunk: Any, purpose: str, uri: str, generation: int = 0, *, owner: Any = None,
            timeout: float | None = None) -> Ask:
        """The chunk's summary for ``purpose``: now, or a ticket (``owner``: whose, default (purpose, uri); ``timeout``:
        how long the caller will wait, a hover's by default hoverTimeoutMs: a hover that gives up then is counted)."""
        e, m = self._e, self._e.model
        _, use = _PURPOSES[purpose]
        if timeout is None and purpose == HOVER:
            timeout = e.settings.hover_timeout_ms / 1000
        a = Ask(chunk, timeout=timeout, deadline=None if timeout is None else time.monotonic() + timeout)
        local = m.can_summarize
        can_summarize = local or self.uses_backend("lenses")
        if purpose == HOVER:
            e.counters["hovers"] += 1
            if (shown := self.summary(chunk)) is not None:
                e.counters["hover_cache_hits"] += 1
                a.summary = shown
                return a
            if not can_summarize:
                return _no_model(a, m.error or "no model")
            if (failed := self.failure(chunk)) is not None:
                a.note = f"no summary: {failed}"
                return a
        else:
            if purpose == FILE and self.authored(chunk) is not None:
                return a  # it shows its own docstring
            if (text := self.cached_summary(chunk, use)) is not None:
                a.text = text
                return a
            if purpose == ACTION and not can_summarize:
                return _no_model(a, m.error or "no model")
        owner = (purpose, uri) if owner is None else owner
        with self._lock:  # model_known() sets the id before it takes the lock: an ask waits only for a later call
            if self._e.model.summary_id is None and local and not self.uses_backend(use):
                if purpose == PREFETCH:
                    return a  # queued with its document once the model is there
                a.ticket, a.loading = self._outer(a, purpose), True
                self._waiting.append((a, purpose, uri, generation, owner))
                return a
        ticket = self._queue(a, purpose, uri, generation, owner)
        if ticket is not None and purpose == HOVER:  # a hover's ticket gives what it shows
            _chain(ticket, outer := self._outer(a, purpose), self._converter(a, purpose))
            ticket = outer
        a.ticket = ticket
        return a

    def model_known(self) -> None:
        """The model's id is known, or its load failed (or the engine shuts down): answer the waiting asks."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for a, purpose, uri, generation, owner in waiting:
            a.loading = False
            outer = a.ticket
            if outer is None or outer.done():
                continue  # given up meanwhile (cancelled, timed out)
            convert = self._converter(a, purpose)
            if (text := self.cached_summary(a.chunk, _PURPOSES[purpose][1])) is not None:
                _settle(outer, result=convert(text) if convert else text)
            elif (ticket := self._queue(a, purpose, uri, generation, owner)) is None:
                _settle(outer, error=a.error or ModelUnavailable("no model"))
            else:
                _chain(ticket, outer, convert)

    # ------------------------------------------------------------------------------------------------ inside

    def _queue(self, a: Ask, purpose: str, uri: str, generation: int, owner: Any) -> Future | None:
        """The chunk's ticket in the queue, or None (``a.note`` / ``a.error`` say why)."""
        e = self._e
        priority, use = _PURPOSES[purpose]
        also = (Priority.OPEN, uri, generation) if purpose in (HOVER, ACTION) else None  # queued after a timeout
        ticket = self.request(a.chunk, priority, owner=uri if purpose == PREFETCH else owner, generation=generation,
                              use=use, also=also)
        if ticket is None:
            if (error := e.model.error) is not None:
                _no_model(a, error)
            else:
                a.note, a.error = "loading the model…", ModelUnavailable("the model is not loaded yet")
        return ticket

    def _converter(self, a: Ask, purpose: str) -> Any:
        """A hover's ticket gives the ``Summary`` it shows (the grounding check applied); the others the text."""
        return (lambda text: self.generated(a.chunk, text)) if purpose == HOVER else None

    def _outer(self, a: Ask, purpose: str) -> Future:
        """A ticket of the ask's own; a hover's given up at its deadline counts as a hover timeout."""
        future: Future = Future()
        if purpose == HOVER:
            def done(f: Future) -> None:
                if f.cancelled() and a.deadline is not None and time.monotonic() >= a.deadline - 0.05:
                    self._e.counters["hover_timeouts"] += 1

            future.add_done_callback(done)
        return future


def _no_model(a: Ask, error: str) -> Ask:
    a.note, a.error = f"model unavailable: {error}", ModelUnavailable(error)
    return a


def _settle(future: Future, result: Any = None, error: BaseException | None = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled meanwhile (the asker gave up)
        pass


def _chain(inner: Future, outer: Future, convert: Any = None) -> None:
    """``outer`` follows ``inner`` (its result, converted, or its error); cancelling ``outer`` cancels ``inner``."""

    def forward(f: Future) -> None:
        if outer.done():
            return
        if f.cancelled():
            outer.cancel()
        elif (err := f.exception()) is not None:
            _settle(outer, error=err)
        else:
            try:
                value = convert(f.result()) if convert is not None else f.result()
            except Exception as err:  # noqa: BLE001 - a failing conversion fails the ask, never the queue
                _settle(outer, error=err)
            else:
                _settle(outer, result=value)

    def back(f: Future) -> None:
        if f.cancelled():
            inner.cancel()

    inner.add_done_callback(forward)
    outer.add_done_callback(back)
