"""lenscribe.scheduling with a fake summarizer that records its calls and can block."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import CancelledError

import pytest

from lenscribe.scheduling import Priority, Scheduler, SchedulerClosed

WAIT = 5.0


class FakeSummarizer:
    """summarize(codes) -> ["summary of <code>"]; blocks while a code starting with a blocked prefix waits on its
    gate."""

    def __init__(self, delay: float = 0.0):
        self.calls: list[list[str]] = []
        self.gates: dict[str, threading.Event] = {}
        self.started = threading.Event()
        self.delay = delay
        self.lock = threading.Lock()
        self.fail_on: set[str] = set()

    def block(self, prefix: str) -> threading.Event:
        gate = self.gates[prefix] = threading.Event()
        return gate

    def __call__(self, codes, timeout=None):
        with self.lock:
            self.calls.append(list(codes))
        self.started.set()
        for prefix, gate in self.gates.items():
            if any(c.startswith(prefix) for c in codes):
                assert gate.wait(WAIT), "test gate never opened"
        if self.delay:
            time.sleep(self.delay)
        if any(c in self.fail_on for c in codes):
            raise RuntimeError("model exploded")
        return [f"summary of {c}" for c in codes]

    @property
    def flat(self) -> list[str]:
        return [c for call in self.calls for c in call]


@pytest.fixture
def fake():
    return FakeSummarizer()


def make(fake, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("batch_size", 1)
    kw.setdefault("hover_lane", False)
    sched = Scheduler(fake, **kw)
    return sched


def occupy(fake, sched, key="busy"):
    """Start a job that blocks the (single) worker until the returned gate is set."""
    gate = fake.block(key)
    ticket = sched.submit(key, key, Priority.WORKSPACE)
    assert fake.started.wait(WAIT)
    return gate, ticket


def test_results_and_on_results_hook(fake):
    stored = []
    sched = make(fake, on_results=stored.extend)
    t = sched.submit("k1", "def f(): pass", Priority.OPEN)
    assert t.result(WAIT) == "summary of def f(): pass"
    assert stored == [("k1", "summary of def f(): pass")]
    assert sched.wait_idle(WAIT)
    snap = sched.snapshot()
    assert snap["jobs_run"] == 1 and snap["batches_run"] == 1 and snap["queued"] == 0
    sched.shutdown()


def test_priority_order(fake):
    sched = make(fake)
    gate, _ = occupy(fake, sched)
    tickets = [
        sched.submit("w", "w", Priority.WORKSPACE),
        sched.submit("o1", "o1", Priority.OPEN),
        sched.submit("v", "v", Priority.VISIBLE),
        sched.submit("o2", "o2", Priority.OPEN),
        sched.submit("h", "h", Priority.HOVER),
    ]
    snap = sched.snapshot()
    assert snap["queued"] == 5 and snap["running"] == 1
    assert snap["queued_by_priority"] == {"hover": 1, "visible": 1, "open": 2, "workspace": 1}
    gate.set()
    for t in tickets:
        t.result(WAIT)
    assert fake.flat == ["busy", "h", "v", "o1", "o2", "w"]
    sched.shutdown()


def test_identical_chunks_are_computed_once(fake):
    stored = []
    sched = make(fake, on_results=stored.extend)
    gate, _ = occupy(fake, sched)
    a = sched.submit("same", "code", Priority.OPEN, owner="a.py")
    b = sched.submit("same", "code", Priority.WORKSPACE, owner="b.py")
    c = sched.submit("busy", "busy", Priority.HOVER)  # joins the running job
    assert a is not b
    gate.set()
    assert a.result(WAIT) == b.result(WAIT) == "summary of code"
    assert c.result(WAIT) == "summary of busy"
    assert fake.flat == ["busy", "code"]
    assert sched.snapshot()["deduplicated"] == 2
    assert [k for k, _ in stored] == ["busy", "same"]
    sched.shutdown()


def test_dedup_raises_priority(fake):
    sched = make(fake)
    gate, _ = occupy(fake, sched)
    sched.submit("w1", "w1", Priority.WORKSPACE)
    late = sched.submit("w2", "w2", Priority.WORKSPACE)
    sched.submit("o", "o", Priority.OPEN)
    sched.submit("w2", "w2", Priority.HOVER)  # someone hovers it
    gate.set()
    late.result(WAIT)
    assert sched.wait_idle(WAIT)
    assert fake.flat == ["busy", "w2", "o", "w1"]
    sched.shutdown()


def test_batches_only_same_priority(fake):
    sched = make(fake, batch_size=3)
    gate, _ = occupy(fake, sched)
    for i in range(4):
        sched.submit(f"o{i}", f"o{i}", Priority.OPEN)
    sched.submit("w0", "w0", Priority.WORKSPACE)
    sched.submit("w1", "w1", Priority.WORKSPACE)
    gate.set()
    assert sched.wait_idle(WAIT)
    assert fake.calls == [["busy"], ["o0", "o1", "o2"], ["o3"], ["w0", "w1"]]
    assert sched.snapshot()["batches_run"] == 4
    sched.shutdown()


def test_edit_cancels_stale_queued_work(fake):
    stored = []
    sched = make(fake, on_results=stored.extend)
    gate, _ = occupy(fake, sched)
    old_a = sched.submit("a1", "a1", Priority.OPEN, owner="doc", generation=1)
    old_b = sched.submit("b", "b", Priority.OPEN, owner="doc", generation=1)  # unchanged by the edit
    other = sched.submit("x", "x", Priority.OPEN, owner="other", generation=1)
    # the edit: generation 2 re-submits the chunks of the new text, then drops what generation 1 still waits for
    new_a = sched.submit("a2", "a2", Priority.OPEN, owner="doc", generation=2)
    new_b = sched.submit("b", "b", Priority.OPEN, owner="doc", generation=2)
    assert sched.cancel_stale("doc", 2) == 2
    assert old_a.cancelled() and old_b.cancelled() and not new_b.cancelled()
    gate.set()
    assert new_a.result(WAIT) == "summary of a2" and new_b.result(WAIT) == "summary of b"
    assert other.result(WAIT) == "summary of x"
    assert sched.wait_idle(WAIT)
    assert sorted(fake.flat) == ["a2", "b", "busy", "x"]  # a1 never ran
    assert sched.snapshot()["cancelled"] == 1
    with pytest.raises(CancelledError):
        old_a.result(0)
    sched.shutdown()


def test_running_work_finishes_and_is_stored(fake):
    stored = []
    sched = make(fake, on_results=stored.extend)
    gate = fake.block("slow")
    t = sched.submit("slow", "slow", Priority.OPEN, owner="doc", generation=1)
    assert fake.started.wait(WAIT)
    assert sched.cancel_stale("doc", 2) == 0  # started: not cancelled
    t.cancel()  # the requester gives up; the job still completes for the cache
    gate.set()
    assert sched.wait_idle(WAIT)
    assert stored == [("slow", "summary of slow")]


def test_close_document_cancels_its_queue(fake):
    sched = make(fake)
    gate, _ = occupy(fake, sched)
    ts = [sched.submit(f"c{i}", f"c{i}", Priority.OPEN, owner="doc") for i in range(5)]
    keep = sched.submit("c0", "c0", Priority.WORKSPACE, owner="workspace")
    assert sched.cancel_owner("doc") == 5
    assert all(t.cancelled() for t in ts)
    gate.set()
    assert keep.result(WAIT) == "summary of c0"
    assert sched.wait_idle(WAIT)
    assert fake.flat == ["busy", "c0"]
    sched.shutdown()


def test_cancelled_ticket_lowers_priority_back(fake):
    sched = make(fake)
    gate, _ = occupy(fake, sched)
    sched.submit("o", "o", Priority.OPEN)
    w = sched.submit("w", "w", Priority.WORKSPACE)
    hover = sched.submit("w", "w", Priority.HOVER)
    hover.cancel()  # e.g. $/cancelRequest: back to workspace priority
    gate.set()
    w.result(WAIT)
    assert fake.flat == ["busy", "o", "w"]
    sched.shutdown()


def test_hover_is_not_queued_behind_a_workspace_backlog():
    fake = FakeSummarizer()
    sched = Scheduler(fake, workers=1, batch_size=4)  # with the hover lane
    gate = fake.block("ws")
    backlog = [sched.submit(f"ws{i}", f"ws{i}", Priority.WORKSPACE, owner="workspace") for i in range(40)]
    assert fake.started.wait(WAIT)
    started = time.monotonic()
    hover = sched.submit("hover", "def hovered(): pass", Priority.HOVER, owner="doc")
    assert hover.result(WAIT) == "summary of def hovered(): pass"
    assert time.monotonic() - started < 1.0
    assert not gate.is_set() and not any(t.done() for t in backlog)  # the backlog is still blocked
    assert sched.snapshot()["hover_lane_runs"] == 1
    gate.set()
    for t in backlog:
        t.result(WAIT)
    assert max(len(c) for c in fake.calls) == 4
    sched.shutdown()


def test_two_workers_run_concurrently():
    fake = FakeSummarizer()
    sched = Scheduler(fake, workers=2, batch_size=1, hover_lane=False)
    gate = fake.block("a")
    a = sched.submit("a", "a", Priority.WORKSPACE)
    b = sched.submit("b", "b", Priority.WORKSPACE)
    assert b.result(WAIT) == "summary of b"  # the second worker is not stuck behind the first
    gate.set()
    a.result(WAIT)
    sched.set_workers(1)
    assert sched.workers == 1
    assert sched.submit("c", "c").result(WAIT) == "summary of c"
    sched.shutdown()


def test_summarizer_errors_reach_every_waiter(fake):
    fake.fail_on = {"bad"}
    sched = make(fake, batch_size=2)
    gate, _ = occupy(fake, sched)
    t1 = sched.submit("bad", "bad", Priority.OPEN)
    t2 = sched.submit("bad", "bad", Priority.WORKSPACE)
    gate.set()
    with pytest.raises(RuntimeError, match="exploded"):
        t1.result(WAIT)
    with pytest.raises(RuntimeError):
        t2.result(WAIT)
    assert sched.submit("good", "good").result(WAIT) == "summary of good"  # still serving
    assert sched.snapshot()["failed"] == 1
    sched.shutdown()


def test_jobs_wait_for_a_summarizer_then_fail_all():
    sched = Scheduler(None, workers=1)
    t = sched.submit("k", "code", Priority.HOVER)
    time.sleep(0.05)
    assert not t.done() and sched.snapshot()["queued"] == 1
    assert sched.fail_all(RuntimeError("model unavailable")) == 1
    with pytest.raises(RuntimeError, match="unavailable"):
        t.result(WAIT)
    fake = FakeSummarizer()
    sched.set_summarize(fake)
    assert sched.submit("k", "code").result(WAIT) == "summary of code"
    sched.shutdown()


def test_shutdown_fails_queued_tickets(fake):
    sched = make(fake)
    gate, busy = occupy(fake, sched)
    queued = sched.submit("q", "q")
    threading.Timer(0.1, gate.set).start()
    sched.shutdown()
    with pytest.raises(SchedulerClosed):
        queued.result(WAIT)
    assert busy.result(WAIT) == "summary of busy"
    assert isinstance(sched.submit("late", "late").exception(WAIT), SchedulerClosed)


def test_reprioritize_visible_range(fake):
    sched = make(fake)
    gate, _ = occupy(fake, sched)
    for i in range(4):
        sched.submit(f"c{i}", f"c{i}", Priority.OPEN, owner="doc")
    sched.reprioritize("doc", ["c3", "c2"], Priority.VISIBLE)
    gate.set()
    assert sched.wait_idle(WAIT)
    assert fake.flat == ["busy", "c2", "c3", "c0", "c1"]
    sched.shutdown()


def test_one_bad_chunk_fails_alone_and_its_batch_mates_get_summaries(fake):
    fake.fail_on = {"bad"}
    failures: list = []
    results: list = []
    sched = make(fake, batch_size=8, on_errors=failures.extend, on_results=results.extend)
    gate, _ = occupy(fake, sched)
    tickets = {c: sched.submit(c, c, Priority.OPEN) for c in ("good1", "bad", "good2")}
    gate.set()
    assert tickets["good1"].result(WAIT) == "summary of good1"
    assert tickets["good2"].result(WAIT) == "summary of good2"
    with pytest.raises(RuntimeError, match="exploded"):
        tickets["bad"].result(WAIT)
    assert ["good1", "bad", "good2"] in fake.calls  # tried together first, then one at a time
    assert [k for k, _ in failures] == ["bad"] and isinstance(failures[0][1], RuntimeError)
    assert {k for k, _ in results} == {"busy", "good1", "good2"}
    snap = sched.snapshot()
    assert snap["failed"] == 1 and snap["jobs_run"] == 3
    sched.shutdown()


def test_a_batch_stopped_by_shutdown_logs_no_traceback(caplog):
    """Shutting down stops the generations in progress (GenerationStopped): the batch that ends so is not a failure
    worth a warning and a traceback."""
    entered, release = threading.Event(), threading.Event()

    def summarize(codes, timeout=None):
        entered.set()
        assert release.wait(WAIT)
        raise RuntimeError("generation stopped: shutting down")  # what Seq2SeqOnnx.stop() makes the run raise

    sched = Scheduler(summarize, workers=1, batch_size=2, hover_lane=False)
    tickets = [sched.submit(("m", c), c, Priority.OPEN) for c in ("a", "b")]
    assert entered.wait(WAIT)
    with caplog.at_level(logging.DEBUG, logger="lenscribe.scheduling"):
        sched.shutdown(wait=False)
        release.set()
        assert sched.shutdown(wait=True, timeout=WAIT)
    assert all(t.exception(WAIT) is not None for t in tickets)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text


def test_a_second_request_keeps_the_job_queued_when_the_first_is_cancelled(fake):
    """Scheduler.submit(..., also=...) (issue 27): a hover's ticket and its document's request in one call; the hover
    giving up leaves the job queued at the document's priority, and the document's cancellation drops it."""
    sched = make(fake)
    try:
        gate, _ = occupy(fake, sched)
        hover = sched.submit("k", "k code", Priority.HOVER, owner="hover", also=(Priority.OPEN, "doc", 3))
        assert sched.snapshot()["queued_by_priority"]["hover"] == 1
        hover.cancel()
        assert sched.snapshot()["queued_by_priority"] == {"hover": 0, "visible": 0, "open": 1, "workspace": 0}
        gate.set()
        assert sched.wait_idle(WAIT) and "k code" in fake.flat  # computed for the document all the same
        fake.started.clear()
        gate2, _ = occupy(fake, sched, "busy2")
        dropped = sched.submit("j", "j code", Priority.HOVER, owner="hover", also=(Priority.OPEN, "doc", 3))
        dropped.cancel()
        assert sched.cancel_owner("doc") == 1 and sched.snapshot()["queued"] == 0
        gate2.set()
        assert sched.wait_idle(WAIT) and "j code" not in fake.flat
    finally:
        sched.shutdown()
