"""Background inference: a bounded pool of threads over the summarizer, with priorities, de-duplication, batching
and cancellation.  Nothing in here knows LSP.

    sched = Scheduler(summarizer.summarize, workers=1, batch_size=8, on_results=store_in_cache)
    ticket = sched.submit(chunk.hash, chunk.text, Priority.HOVER, owner=uri, generation=3)
    ticket.result(timeout=2.0)                      # a concurrent.futures.Future[str]
    sched.cancel_stale(uri, generation=4)           # an edit: queued work of older generations of uri is dropped

Requests and jobs
    A *job* is one chunk to summarize, keyed by its hash; a *ticket* is one request for it (the future a caller gets).
    Identical chunks (same key) are computed once: a second ``submit`` of a queued or running key adds a ticket to the
    same job.  A job runs at the most urgent priority of its live tickets; cancelling a ticket (``ticket.cancel()``,
    ``cancel_stale``, ``cancel_owner``) withdraws only that request, and a queued job nobody wants any more is dropped.
    A job that has started always finishes (its result still reaches ``on_results``, e.g. the cache).

Priorities (lower value first; FIFO within one)
    HOVER (the chunk under the mouse) > VISIBLE (open document, in view) > OPEN (open document) > WORKSPACE.

Threads
    ``workers`` general threads take the most urgent queued job and fill a batch (``batch_size``) with further jobs
    *of the same priority*, so a hover never waits for a batch of workspace chunks it was put into.  One more
    *hover lane* thread runs only HOVER jobs: a hover starts at once even while every worker is busy with a long
    workspace batch (briefly sharing the CPU with it) -- a hover never waits behind a backlog.

The summarize function may be set later (``set_summarize``): jobs queue up until it is; ``fail_all`` fails every
waiting ticket (e.g. the model could not be loaded).

Failures
    A batch whose summarize() call raises is retried one job at a time, so one bad chunk fails alone; ``on_errors``
    hears of each job that failed (as ``on_results`` of each that succeeded) before its tickets resolve.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, cast

log = logging.getLogger(__name__)

__all__ = ["Priority", "Scheduler", "SchedulerClosed", "Ticket"]

SummarizeFn = Callable[[list[Any]], list[str]]  # codes (or the summarizer's requests) -> one summary each
ResultsHook = Callable[[list[tuple[Hashable, str]]], None]
ErrorsHook = Callable[[list[tuple[Hashable, BaseException]]], None]


class Priority(IntEnum):
    HOVER = 0
    VISIBLE = 1
    OPEN = 2
    WORKSPACE = 3


class SchedulerClosed(RuntimeError):
    """The scheduler was shut down before the job ran."""


class Ticket(Future):
    """One request for a job's summary: a ``concurrent.futures.Future[str]`` with who asked and how urgently."""

    def __init__(self, key: Hashable, priority: Priority, owner: Hashable | None, generation: int) -> None:
        super().__init__()
        self.key = key
        self.priority = Priority(priority)
        self.owner = owner
        self.generation = generation


@dataclass(eq=False)
class _Job:
    key: Hashable
    code: Any  # what the summarize function takes: a chunk's code, or a backend's request
    seq: int
    tickets: list[Ticket] = field(default_factory=list)
    priority: int = Priority.WORKSPACE
    running: bool = False
    queued_at: float = field(default_factory=time.monotonic)

    def live(self) -> list[Ticket]:
        return [t for t in self.tickets if not t.done()]


@dataclass
class SchedulerStats:
    submitted: int = 0  # tickets handed out
    deduplicated: int = 0  # tickets that joined a queued or running job
    jobs_run: int = 0  # chunks sent to the summarizer
    batches_run: int = 0  # summarize() calls
    cancelled: int = 0  # queued jobs dropped because nobody wanted them any more
    failed: int = 0  # chunks whose summary failed (alone, after their batch failed)
    hover_lane_runs: int = 0  # batches the hover lane ran

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Scheduler:
    def __init__(
        self,
        summarize: SummarizeFn | None = None,
        *,
        workers: int = 1,
        batch_size: int = 8,
        on_results: ResultsHook | None = None,
        on_errors: ErrorsHook | None = None,
        hover_lane: bool = True,
        name: str = "lenscribe",
        cancel_running: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._summarize = summarize
        self.batch_size = batch_size
        self.on_results = on_results
        self.on_errors = on_errors
        self.cancel_running = cancel_running  # cancelling reaches running jobs' tickets too (see ``wanted``)
        self.stats = SchedulerStats()
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int, _Job]] = []  # (priority, seq, job); stale entries skipped lazily
        self._jobs: dict[Hashable, _Job] = {}  # queued and running jobs by key
        self._seq = itertools.count()
        self._closed = False
        self._running_batches = 0
        self._threads: list[threading.Thread] = []
        self._target_workers = 0
        self.set_workers(workers)
        if hover_lane:
            self._spawn(lane="hover", index=-1)

    # ------------------------------------------------------------------------------------------------ public API

    def submit(
        self,
        key: Hashable,
        code: Any,
        priority: Priority = Priority.OPEN,
        *,
        owner: Hashable | None = None,
        generation: int = 0,
        also: tuple[Priority, Hashable | None, int] | None = None,
    ) -> Ticket:
        """Ask for the summary of ``code`` (identified by ``key``); returns a ticket (a Future[str]).  ``also``: a
        second request of the same job, (priority, owner, generation), that nobody awaits: the job stays queued for it
        when the returned ticket is cancelled (a hover that gave up keeps its chunk queued for its document)."""
        tickets = [Ticket(key, priority, owner, generation), *([Ticket(key, *also)] if also is not None else [])]
        with self._cond:
            if self._closed:
                for ticket in tickets:
                    ticket.set_exception(SchedulerClosed("scheduler is shut down"))
                return tickets[0]
            for ticket in tickets:
                self.stats.submitted += 1
                job = self._jobs.get(key)
                if job is None:
                    job = _Job(key=key, code=code, seq=next(self._seq), priority=int(ticket.priority))
                    self._jobs[key] = job
                    job.tickets.append(ticket)
                    heapq.heappush(self._heap, (job.priority, job.seq, job))
                else:
                    self.stats.deduplicated += 1
                    job.tickets.append(ticket)
                    if not job.running and ticket.priority < job.priority:
                        job.priority = int(ticket.priority)
                        heapq.heappush(self._heap, (job.priority, job.seq, job))
            self._cond.notify_all()
        for ticket in tickets:
            ticket.add_done_callback(self._ticket_done)
        return tickets[0]

    def wanted(self, key: Hashable) -> bool:
        """Does a queued or running job for ``key`` still have a live ticket? With ``cancel_running`` a running job's
        summarize function asks this to end work nobody waits for (e.g. a request to a remote server)."""
        with self._cond:
            job = self._jobs.get(key)
            return job is not None and bool(job.live())

    def cancel_stale(self, owner: Hashable, generation: int) -> int:
        """Withdraw ``owner``'s tickets of generations older than ``generation``; returns how many were cancelled."""
        return self._cancel_where(lambda t: t.owner == owner and t.generation < generation)

    def cancel_owner(self, owner: Hashable) -> int:
        """Withdraw every ticket of ``owner`` (a closed document, a cancelled workspace run)."""
        return self._cancel_where(lambda t: t.owner == owner)

    def reprioritize(self, owner: Hashable, keys: Sequence[Hashable], priority: Priority) -> None:
        """Raise (never lower) the priority of ``owner``'s queued tickets for ``keys`` (e.g. the visible range)."""
        with self._cond:
            for key in set(keys):
                job = self._jobs.get(key)
                if job is None or job.running:
                    continue
                for t in job.tickets:
                    if t.owner == owner and priority < t.priority:
                        t.priority = Priority(priority)
                if priority < job.priority and any(t.owner == owner for t in job.tickets):
                    job.priority = int(priority)
                    heapq.heappush(self._heap, (job.priority, job.seq, job))
            self._cond.notify_all()

    def set_summarize(self, summarize: SummarizeFn | None) -> None:
        """Install (or replace) the function that runs the model; queued jobs start once there is one."""
        with self._cond:
            self._summarize = summarize
            self._cond.notify_all()

    def set_workers(self, workers: int) -> None:
        """Grow or shrink the general pool (surplus threads exit after their current batch)."""
        if workers < 1:
            raise ValueError("workers must be at least 1")
        with self._cond:
            self._target_workers = workers
            alive = {getattr(t, "index", None) for t in self._threads if t.is_alive()}
            for i in range(workers):
                if i not in alive:
                    self._spawn(lane="general", index=i)
            self._cond.notify_all()

    @property
    def workers(self) -> int:
        return self._target_workers

    def fail_all(self, error: BaseException) -> int:
        """Fail every queued job's tickets with ``error`` (running ones finish); returns the number of jobs."""
        with self._cond:
            queued = [j for j in self._jobs.values() if not j.running]
            for job in queued:
                del self._jobs[job.key]
            gone = {id(j) for j in queued}
            self._heap = [e for e in self._heap if id(e[2]) not in gone]
            heapq.heapify(self._heap)
            self._cond.notify_all()
        for job in queued:
            for t in job.tickets:
                _set(t, error=error)
        return len(queued)

    def snapshot(self) -> dict[str, Any]:
        """Queue sizes and counters (for a stats command)."""
        with self._cond:
            queued = [j for j in self._jobs.values() if not j.running]
            by_priority = {p.name.lower(): 0 for p in Priority}
            for j in queued:
                by_priority[Priority(j.priority).name.lower()] += 1
            return {
                "queued": len(queued),
                "running": sum(1 for j in self._jobs.values() if j.running),
                "running_batches": self._running_batches,
                "queued_by_priority": by_priority,
                "workers": self._target_workers,
                "batch_size": self.batch_size,
                **self.stats.as_dict(),
            }

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running (tests, benchmarks); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._jobs:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 0.5)
            return True

    def shutdown(self, wait: bool = True, timeout: float | None = 10.0) -> bool:
        """Stop the threads; queued tickets fail with SchedulerClosed (running batches finish first, or end early if
        the summarizer is stopped). With ``wait``, join every thread (at most ``timeout`` s in all): True when none is
        left running. Idempotent: ``shutdown(wait=False)`` then later ``shutdown()`` joins."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.fail_all(SchedulerClosed("scheduler is shut down"))
        if not wait:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in list(self._threads):
            if t is not threading.current_thread():
                t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads if t is not threading.current_thread())

    # ------------------------------------------------------------------------------------------------ internals

    def _spawn(self, lane: str, index: int) -> None:
        t = threading.Thread(target=self._worker, args=(lane, index), name=f"{self._name}-{lane}-{index}",
                             daemon=True)
        t.index = index  # type: ignore[attr-defined]
        self._threads = [x for x in self._threads if x.is_alive()]
        self._threads.append(t)
        t.start()

    def _ticket_done(self, ticket: Future) -> None:
        if not ticket.cancelled():
            return
        with self._cond:
            job = self._jobs.get(ticket.key)  # type: ignore[attr-defined]
            if job is not None and not job.running:
                self._refresh(job)

    def _cancel_where(self, pred: Callable[[Ticket], bool]) -> int:
        victims: list[Ticket] = []
        with self._cond:
            for job in self._jobs.values():
                if job.running and not self.cancel_running:
                    continue  # started work finishes; its result still goes to the cache
                victims += [t for t in job.tickets if not t.done() and pred(t)]
        n = 0
        for t in victims:
            if t.cancel():  # runs _ticket_done, which drops or re-prioritizes the job
                n += 1
        return n

    def _refresh(self, job: _Job) -> None:
        """Re-derive a queued job's priority from its live tickets; drop it when none is left. Lock held."""
        live = job.live()
        job.tickets = live
        if not live:
            del self._jobs[job.key]
            self.stats.cancelled += 1
            self._cond.notify_all()
            return
        best = min(t.priority for t in live)
        if best != job.priority:
            job.priority = int(best)
            heapq.heappush(self._heap, (job.priority, job.seq, job))

    def _pop(self, lane: str) -> _Job | None:
        """The most urgent runnable job for this lane, or None. Lock held."""
        while self._heap:
            prio, _seq, job = self._heap[0]
            if self._jobs.get(job.key) is not job or job.running or prio != job.priority:
                heapq.heappop(self._heap)  # stale entry
                continue
            if lane == "hover" and prio != Priority.HOVER:
                return None
            heapq.heappop(self._heap)
            return job
        return None

    def _take_batch(self, lane: str) -> list[_Job]:
        first = self._pop(lane)
        if first is None:
            return []
        batch = [first]
        while len(batch) < self.batch_size and self._heap:
            prio, _seq, job = self._heap[0]
            if self._jobs.get(job.key) is not job or job.running or prio != job.priority:
                heapq.heappop(self._heap)
                continue
            if prio != first.priority:
                break  # only jobs of the same priority share a batch
            batch.append(heapq.heappop(self._heap)[2])
        for job in batch:
            job.running = True
        return batch

    def _worker(self, lane: str, index: int) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed or (lane == "general" and index >= self._target_workers):
                        return
                    batch = self._take_batch(lane) if self._summarize is not None else []
                    if batch:
                        summarize = self._summarize
                        self._running_batches += 1
                        break
                    self._cond.wait()
            try:
                self._run(batch, summarize, lane)  # type: ignore[arg-type]
            finally:
                with self._cond:
                    self._running_batches -= 1
                    for job in batch:
                        if self._jobs.get(job.key) is job:
                            del self._jobs[job.key]
                    self._cond.notify_all()

    def _call(self, summarize: SummarizeFn, codes: list[Any]) -> list[str]:
        results = summarize(codes)
        if len(results) != len(codes):
            raise RuntimeError(f"summarizer returned {len(results)} results for {len(codes)} inputs")
        return results

    def _outcomes(self, batch: list[_Job], summarize: SummarizeFn) -> list[tuple[str | None, BaseException | None]]:
        """(summary, None) or (None, error) per job. A batch that fails is retried one job at a time (unless it timed
        out or the scheduler is closing): one bad chunk fails alone, its batch-mates still get their summaries."""
        codes = [j.code for j in batch]
        try:
            return [(r, None) for r in self._call(summarize, codes)]
        except Exception as e:  # every waiting ticket must learn about it
            if self._closed:  # shutting down stopped it (GenerationStopped): expected, not a failure
                log.debug("summarizing %d chunk(s) ended by shutdown: %s", len(batch), e)
                return [(None, e)] * len(batch)
            log.warning("summarizing %d chunk(s) failed: %s", len(batch), e, exc_info=not isinstance(e, TimeoutError))
            if len(batch) == 1 or isinstance(e, TimeoutError):
                return [(None, e)] * len(batch)
        out: list[tuple[str | None, BaseException | None]] = []
        for code in codes:
            if self._closed:
                out.append((None, SchedulerClosed("scheduler is shut down")))
                continue
            try:
                out.append((self._call(summarize, [code])[0], None))
            except Exception as e:  # noqa: BLE001 - it is this chunk's result
                log.warning("summarizing one chunk failed: %s", e)
                out.append((None, e))
        return out

    def _run(self, batch: list[_Job], summarize: SummarizeFn, lane: str) -> None:
        outcomes = self._outcomes(batch, summarize)
        # a job without an error has its summary (str)
        done = [(j.key, cast(str, r)) for j, (r, err) in zip(batch, outcomes, strict=True) if err is None]
        failed = [(j.key, err) for j, (_r, err) in zip(batch, outcomes, strict=True) if err is not None]
        with self._cond:
            self.stats.batches_run += 1
            if lane == "hover":
                self.stats.hover_lane_runs += 1
            self.stats.jobs_run += len(done)
            self.stats.failed += len(failed)
        # before the tickets resolve: whoever is woken finds the result (or the failure) where it looks
        hooks: tuple[tuple[Callable[[Any], None] | None, list[Any]], ...] = (
            (self.on_results, done), (self.on_errors, failed))
        for hook, items in hooks:
            if hook is not None and items:
                try:
                    hook(items)
                except Exception:  # a broken hook must not lose the results
                    log.exception("scheduler hook failed")
        with self._cond:  # retire the jobs and take their tickets in one step: a late submit starts a new job
            tickets = []
            for job in batch:
                if self._jobs.get(job.key) is job:
                    del self._jobs[job.key]
                tickets.append(list(job.tickets))
            self._cond.notify_all()
        for (result, error), ts in zip(outcomes, tickets, strict=True):
            for t in ts:
                if error is None:
                    _set(t, result=result)
                else:
                    _set(t, error=error)


def _set(ticket: Future, *, result: Any = None, error: BaseException | None = None) -> None:
    if ticket.done():
        return
    try:
        if error is not None:
            ticket.set_exception(error)
        else:
            ticket.set_result(result)
    except InvalidStateError:  # cancelled meanwhile
        pass
