"""``lenscribe summarize --executor ray``: the summarize pipeline's heavy stages on Ray Data.

    reader + chunker    ray.data.from_items(paths).map_batches(_read_files)          stateless tasks (read_file)
    cache look-up       the driver (it owns the SQLite cache)                          lenscribe.summarize_cli
    summarizer          ray.data.from_items(batches).map_batches(_SummarizeBatches,   an actor pool: the model is
                        concurrency=workers, max_restarts, max_task_retries)          loaded once per actor

Each row of the summarize dataset is one model batch exactly as the local executor forms it (``plan_batches``), so
both executors run the model on the same batch-mates and write the same summaries.  Results stream back to the driver
as the actors finish them and are written to the cache at once: a run that is killed resumes from the cache.

A dead actor (its process killed, a node lost) is restarted and its batches retried by Ray (``max_restarts``,
``max_task_retries``).  Ray is an optional extra (``pip install 'lenscribe[ray]'``); without it ``require_ray`` raises
``RayUnavailable`` with the command to run.  Every node must have lenscribe installed and see the model directory and
the source files at the same paths (a shared file system, or the same checkout on every node).
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from lenscribe.sources import ReadOptions, Source

log = logging.getLogger(__name__)

__all__ = ["RayConnectError", "RayRun", "RayRunError", "RayUnavailable", "require_ray"]

CONNECT_TIMEOUT_S = 10.0  # the TCP check of --address
JOIN_TIMEOUT_S = float(os.environ.get("LENSCRIBE_RAY_JOIN_TIMEOUT", "60"))  # ray.init, local start or join
CRASH_ONCE_ENV = "LENSCRIBE_RAY_CRASH_ONCE"  # tests: a file path; the first actor call to create it exits its process
# Model batches per Ray Data block: results come back (and reach the cache) a block at a time, and the driver pays
# ~10 ms a block (docs/SCALE.md): raise it for clusters of more than a few nodes.
BATCHES_PER_BLOCK = max(1, int(os.environ.get("LENSCRIBE_RAY_BATCHES_PER_BLOCK", "4")))
FILES_PER_TASK = 64
MAX_RESTARTS = 3  # a dead summarizer actor is started again this many times ...
MAX_TASK_RETRIES = 3  # ... and the batches it held are run again
LOCAL_OBJECT_STORE_BYTES = 512 * 1024 * 1024


class RayUnavailable(RuntimeError):
    """Ray (Ray Data) is not installed."""


class RayRunError(RuntimeError):
    """A stage failed on Ray past its retries (what finished is in the cache)."""


class RayConnectError(RuntimeError):
    """The Ray cluster at ``--address`` cannot be reached or joined (``hung``: ray.init is still waiting, in a thread
    that cannot be stopped: only leaving the process ends it)."""

    def __init__(self, message: str, hung: bool = False) -> None:
        super().__init__(message)
        self.hung = hung


def require_ray():
    """The ``ray`` module with Ray Data, or RayUnavailable saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise RayUnavailable(
            f"--executor ray needs Ray, which is not installed ({e}); install the extra: pip install 'lenscribe[ray]'"
        ) from e
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a Ray address (``host:port`` or ``ray://host:port``), None for ``auto``/``local``."""
    if address in ("auto", "local"):
        return None
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise RayConnectError(f"--address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    return host.strip("[]") or "127.0.0.1", int(port)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast (within ``timeout``) when nothing listens at ``address``: ray.init would retry for a long time."""
    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as e:
        raise RayConnectError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from e


@dataclass
class RayRun:
    """A Ray session for one ``lenscribe summarize`` run: started locally, or joined at ``address``."""

    address: str | None = None
    workers: int | None = None  # summarizer actors (default: the cluster's CPUs // threads)
    threads: int = 1  # onnxruntime threads (and Ray CPUs) per actor
    stats: dict = field(default_factory=dict)

    def __enter__(self) -> Self:
        ray = require_ray()
        self._ray = ray
        started = time.perf_counter()
        if self.address:
            check_reachable(self.address)
        kwargs: dict = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
                        "configure_logging": False}
        if not self.address:
            cpus = max(os.cpu_count() or 1, (self.workers or 1) * self.threads)
            kwargs |= {"num_cpus": cpus, "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
        what = f"join the Ray cluster at {self.address}" if self.address else "start a local Ray"
        # ray.init waits for a GCS without end when something that is not one listens at the address: joining runs
        # in a thread, and past JOIN_TIMEOUT_S the run fails (RayConnectError.hung: the caller exits the process).
        outcome: list = []

        def init() -> None:
            try:
                ray.init(address=self.address or "local", **kwargs)
                outcome.append(None)
            except Exception as e:  # noqa: BLE001 -- ConnectionError, RuntimeError, ...: all mean "no cluster"
                outcome.append(e)

        if self.address:
            thread = threading.Thread(target=init, name="lenscribe-ray-init", daemon=True)
            thread.start()
            thread.join(JOIN_TIMEOUT_S)
        else:  # a local start forks Ray's processes, which die with the thread that started them: the main thread
            init()
        if not outcome:
            raise RayConnectError(f"cannot {what}: no answer within {JOIN_TIMEOUT_S:.0f}s (is it a Ray head's GCS "
                                  "port?)", hung=True)
        if outcome[0] is not None:
            raise RayConnectError(f"cannot {what}: {outcome[0]}") from outcome[0]
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        if not log.isEnabledFor(logging.DEBUG):  # Ray Data logs every dataset's plan and progress at INFO
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        self.stats["start_s"] = time.perf_counter() - started
        if self.workers is None:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            self.workers = max(1, cpus // max(1, self.threads))
        self.stats["workers"] = self.workers
        return self

    def __exit__(self, *exc) -> None:
        started = time.perf_counter()
        self._ray.shutdown()
        self.stats["shutdown_s"] = time.perf_counter() - started

    # ------------------------------------------------------------------------------------------------ stages

    def read_files(self, paths: list[Path], options: ReadOptions) -> list[Source]:
        """``sources.read_file`` of every path (same order), by Ray tasks."""
        if not paths:
            return []
        ray = self._ray
        started = time.perf_counter()
        blocks = max(1, math.ceil(len(paths) / FILES_PER_TASK))
        ds = ray.data.from_items([{"i": i, "path": str(p)} for i, p in enumerate(paths)], override_num_blocks=blocks)
        # (tasks are retried by Ray Data's default: read_file itself never raises, it reports a file it cannot read)
        ds = ds.map_batches(_read_files, fn_kwargs={"options": options}, batch_size=FILES_PER_TASK,
                            batch_format="numpy")
        out: list = [None] * len(paths)
        try:
            for row in ds.iter_rows():
                out[int(row["i"])] = pickle.loads(row["file"])
        except self._ray.exceptions.RayError as e:
            raise RayRunError(f"reading and chunking the files on Ray failed: {_first_line(e)}") from e
        self.stats["chunk_s"] = time.perf_counter() - started
        return out

    def summarize_batches(
        self,
        batches: list[list[str]],
        *,
        model_dir: Path,
        options,
        on_batch: Callable[[int, list[str]], None],
    ) -> None:
        """Summarize each batch of code strings on the actor pool; ``on_batch(index, summaries)`` as each returns."""
        if not batches:
            return
        ray = self._ray
        started = time.perf_counter()
        first: float | None = None
        rows = [{"b": i, "texts": json.dumps(texts)} for i, texts in enumerate(batches)]
        blocks = max(1, math.ceil(len(rows) / BATCHES_PER_BLOCK))
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        with warnings.catch_warnings():
            # Ray 2.60 takes the actors' restart/retry limits only as ray_remote_args, which it marks deprecated; its
            # defaults are -1 (forever), which would loop on a batch that kills its actor every time.
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ds.map_batches(
                _SummarizeBatches,
                fn_constructor_kwargs={"model_dir": str(model_dir), "options": options, "threads": self.threads,
                                       "crash_once": os.environ.get(CRASH_ONCE_ENV)},
                batch_size=BATCHES_PER_BLOCK,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=self.workers),
                num_cpus=self.threads,
                max_restarts=MAX_RESTARTS,
                max_task_retries=MAX_TASK_RETRIES,
            )
        done = 0
        try:
            for row in ds.iter_rows():
                if first is None:
                    first = time.perf_counter() - started
                on_batch(int(row["b"]), json.loads(row["summaries"]))
                done += 1
        except self._ray.exceptions.RayError as e:  # an actor that failed past its retries, a lost cluster...
            raise RayRunError(f"the Ray run failed after {done} of {len(batches)} batches: {_first_line(e)}") from e
        if done != len(batches):  # Ray Data raises on a failed block; a short count would be a bug
            raise RuntimeError(f"Ray returned {done} of {len(batches)} batches")
        self.stats["summarize_s"] = time.perf_counter() - started
        self.stats["first_batch_s"] = first


def _first_line(e: BaseException) -> str:
    """The root cause of a Ray error, one line. Ray wraps a worker's exception (RayTaskError around Ray Data's
    UserCodeException); the worker's own error line is only in the outer exception's text (its traceback)."""
    chain: list[BaseException] = []
    cur: BaseException | None = e
    while isinstance(cur, BaseException) and all(cur is not c for c in chain):
        chain.append(cur)
        cur = getattr(cur, "cause", None) or cur.__cause__
    for exc in chain:
        for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines():
            m = re.match(r"^\s*((?:\w+\.)*\w+(?:Error|Exception)): (.*)", line)
            if m and not m.group(1).rsplit(".", 1)[-1].startswith(("UserCodeException", "RayTaskError", "Ray")):
                return f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2)}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(chain[-1])).strip()
    return f"{type(chain[-1]).__name__}: {text.splitlines()[0] if text else ''}"


def _read_files(batch: dict, options: ReadOptions) -> dict:
    from lenscribe.sources import read_file

    files = [pickle.dumps(read_file(str(p), options)) for p in batch["path"]]
    return {"i": batch["i"], "file": files}


class _SummarizeBatches:
    """One Ray actor: the model loaded once, then batch after batch of the plan."""

    def __init__(self, model_dir: str, options, threads: int, crash_once: str | None = None) -> None:
        from lenscribe.summarizer import Summarizer

        self.summarizer = Summarizer.load(model_dir, threads=threads, options=options)
        self.crash_once = crash_once

    def __call__(self, batch: dict) -> dict:
        if self.crash_once:
            try:
                fd = os.open(self.crash_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:  # the first call anywhere dies as a killed worker would: no exception, the process is gone
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                sys.stderr.flush()
                os._exit(1)
        out = []
        for texts in batch["texts"]:
            codes = json.loads(str(texts))
            out.append(json.dumps(self.summarizer.summarize(codes)))
        return {"b": batch["b"], "summaries": out}

