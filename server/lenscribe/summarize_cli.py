"""`lenscribe summarize PATH... [--json]`: chunk files and print each function/class with its summary, no editor
needed.

Files are read as the server reads them (``lenscribe.sources.read_file``, the server's default limits: maxFileBytes,
maxFileLines, maxChunkChars); directories are walked as the server walks a workspace (``files.list_source_files``:
.gitignore honoured, symlinks and special files left out).  A path named on the command line is read as it is; one that
does not exist is an error (exit 2).

Each chunk shows what the editor's lens shows, tagged as there (``render``): a documented function or class its
docstring's first sentence (``· docstring``, unless --no-docstrings: lenscribe.preferDocstrings), the others the
model's summary (``· generated``) or, when the grounding check withholds it, the name as a sentence
(``· from the name``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lenscribe.decoding import DEFAULT_MAX_NEW_TOKENS
from lenscribe.defaults import resolve_model_dir, user_cache_dir
from lenscribe.sources import ReadOptions

WRITE_EVERY_S = 1.0  # summaries of finished batches wait at most this long for their cache write ...
WRITE_EVERY_ITEMS = 512  # ... or until this many are waiting
# Chunks per model call; a chunk's summary is the same in any batch (lenscribe.generation), alone included.
DEFAULT_BATCH_SIZE = 32


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summarize", help="summarize every function and class of files or directories")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.add_argument("--min-lines", type=int, default=2, help="skip chunks shorter than this (default 2)")
    p.add_argument("--beams", type=int, default=1, help="beam width (1 = greedy, fastest)")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                   help=f"chunks per model call (default {DEFAULT_BATCH_SIZE})")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime threads (default: all cores; with --executor ray: per actor, default 1)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="summary cache directory "
                        "(default: $LENSCRIBE_CACHE_DIR, else the user cache dir, as the server)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the summary cache")
    p.add_argument("--no-docstrings", dest="prefer_docstrings", action="store_false",
                   help="summarize documented functions and classes with the model too (default: their docstring's "
                        "first sentence, marked 'docstring', as in the editor: lenscribe.preferDocstrings)")
    p.add_argument("--no-grounding-check", dest="grounding_check", action="store_false",
                   help="show every generated summary (default: a summary naming words the code never mentions is "
                        "withheld for the name as a sentence, as in the editor: lenscribe.groundingCheck)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray Data tasks and an actor pool (pip install 'lenscribe[ray]')")
    p.add_argument("--address", default=None,
                   help="with --executor ray: the cluster to join (HOST:PORT, ray://HOST:PORT, auto); "
                        "default: start a local Ray")
    p.add_argument("--workers", type=int, default=None,
                   help="with --executor ray: summarizer actors (default: the cluster's CPUs // --threads)")
    b = p.add_argument_group("summarizer backend", "an OpenAI-compatible server writes the summaries (the local model "
                             "is the fallback for each chunk it fails; lenscribe.backend.* in the editor)")
    b.add_argument("--backend-url", default=None, help="its base URL, e.g. http://127.0.0.1:8080/v1")
    b.add_argument("--backend-model", default=None, help="the model name to ask for")
    b.add_argument("--backend-api-key-env", default=None, help="environment variable holding the API key")
    b.add_argument("--backend-max-concurrent", type=int, default=2, help="requests at a time (default 2)")
    b.add_argument("--backend-timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.set_defaults(func=run)


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The server's default limits and chunking, with the chunk length of --min-lines; docs looked for as the server
    does, only when documented chunks show them (--no-docstrings: not)."""
    return ReadOptions(min_lines=args.min_lines, docs=args.prefer_docstrings)


def iter_files(paths: list[Path], empty: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """The files to read: a directory's source files as the server lists a workspace's, any other path as given.
    ``empty`` is told of each directory with no source file."""
    from lenscribe.chunking import language_for_path
    from lenscribe.files import list_source_files

    for root in paths:
        if root.is_dir():
            real = root.resolve()  # the walk lists resolved paths: print them under the name the user gave
            found = False
            for path in list_source_files(root, keep=lambda p: language_for_path(p) is not None):
                found = True
                yield root / path.relative_to(real)
            if not found and empty is not None:
                empty(root)
        else:
            yield root


def missing_paths(paths: list[Path]) -> list[Path]:
    """The named paths that name nothing (a dangling symlink is there: read, it is skipped as unreadable)."""
    return [p for p in paths if not os.path.lexists(p)]


def plan_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """The model batches of one run, as indices: by token length (stable), ``batch_size`` at a time -- what
    ``Summarizer.summarize`` does with the whole list.  Both executors run exactly these batches, so a chunk gets the
    same batch-mates (and so the same summary) whichever runs it."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    size = max(1, batch_size)
    return [order[start : start + size] for start in range(0, len(order), size)]


def token_lengths(tokenizer, max_input_tokens: int, codes: list[str]) -> list[int]:
    """The input length ``Summarizer.encode`` gives each code (cut to the model's limit)."""
    from lenscribe.model_input import prepare_code

    return [min(len(e.ids), max_input_tokens) for e in tokenizer.encode_batch([prepare_code(c) for c in codes])]


def run(args: argparse.Namespace) -> int:
    from lenscribe.decoding import GenerationOptions
    from lenscribe.modelfiles import ModelError, ModelFiles
    from lenscribe.tokenization import load_tokenizer

    if args.batch_size < 1 or (args.workers is not None and args.workers < 1) or (args.threads or 1) < 1:
        print("lenscribe: --batch-size, --workers and --threads must be at least 1", file=sys.stderr)
        return 2
    if args.executor != "ray" and (args.address or args.workers):
        print("lenscribe: --address and --workers need --executor ray", file=sys.stderr)
        return 2
    if (args.backend_url is None) != (args.backend_model is None) or (args.backend_url and args.executor == "ray"):
        print("lenscribe: --backend-url and --backend-model go together, without --executor ray", file=sys.stderr)
        return 2
    if missing := missing_paths(args.paths):
        print(f"lenscribe: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    paths = list(iter_files(args.paths, empty=lambda d: print(f"lenscribe: no source files in {d}", file=sys.stderr)))
    if not paths:
        return 1
    options = GenerationOptions(num_beams=args.beams, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    ray_run = None
    if args.executor == "ray":
        from lenscribe.distributed import RayRun, RayUnavailable, require_ray

        try:
            require_ray()
        except RayUnavailable as e:
            print(f"lenscribe: {e}", file=sys.stderr)
            return 2
        ray_run = RayRun(address=args.address, workers=args.workers, threads=args.threads or 1)
    summarizer = None
    try:
        model = ModelFiles.open(resolve_model_dir(args.model), options)
        model.verify()
        if ray_run is None:
            from lenscribe.summarizer import Summarizer

            summarizer = Summarizer.from_files(model, threads=args.threads)
            tokenizer = summarizer.tokenizer
        else:  # the driver only plans: the actors load the model
            tokenizer = load_tokenizer(model.manifest.path("tokenizer"))
    except ModelError as e:
        print(f"lenscribe: {e}", file=sys.stderr)
        return 2
    if ray_run is None:
        return _run(args, paths, None, summarizer, model, tokenizer, sys.stdout)
    from lenscribe.distributed import RayConnectError, RayRunError

    out = sys.stdout
    try:
        # Ray prints its own notices (a worker restarted, ...) on stdout: keep them out of the summaries and JSON.
        with contextlib.redirect_stdout(sys.stderr), ray_run:
            return _run(args, paths, ray_run, summarizer, model, tokenizer, out)
    except RayRunError as e:
        print(f"lenscribe: {e}; the summaries that finished are in the cache: run again to resume", file=sys.stderr)
        return 1
    except RayConnectError as e:
        print(f"lenscribe: {e}", file=sys.stderr)
        if e.hung:  # ray.init is stuck in a thread and would hold the process at exit
            sys.stderr.flush()
            os._exit(2)
        return 2


def authored(chunk, prefer_docstrings: bool) -> str | None:
    """The first sentence of the chunk's own docstring or doc comment when docstrings are preferred, else None (as
    ``Engine.authored``): only chunks without one go to the model. Printed to a terminal: sanitized as a summary is
    (no control characters: an escape sequence in a docstring stays in the file)."""
    from lenscribe.chunking import first_sentence
    from lenscribe.postprocess import sanitize_summary

    doc = getattr(chunk, "doc", None)
    return (sanitize_summary(first_sentence(doc)) or None) if prefer_docstrings and doc else None


def shown(chunk, text: str, grounding_check: bool, docstring: str | None = None) -> dict:
    """What the editor would show: the ``docstring``'s sentence when there is one (``authored``), else the model's
    ``text`` as it is or, when the grounding check withheld it (lenscribe.grounding), the name as a sentence, with
    the words that gave it away and the generated text. ``source`` is render's: docstring, generated or name."""
    from lenscribe.grounding import check
    from lenscribe.render import DOCSTRING, GENERATED, NAME

    if docstring is not None:
        return {"summary": docstring, "source": DOCSTRING, "withheld": []}
    checked = check(text, chunk.text, chunk.qualname) if grounding_check and text else None
    if checked is None or not checked.withheld:
        return {"summary": text, "source": GENERATED, "withheld": []}
    return {"summary": checked.text, "source": NAME, "withheld": list(checked.withheld), "generated": text}


def _run(args, paths: list[Path], ray_run, summarizer, model, tokenizer, stdout) -> int:
    from lenscribe.bundle import open_cache
    from lenscribe.render import Summary, text_lines
    from lenscribe.sources import read_file

    manifest, summary_id, options = model.manifest, model.summary_id, model.options
    backend = backend_summarizer(args, summarizer, summary_id)
    if backend is not None:
        summary_id = backend.summary_id
    started = time.perf_counter()
    reading = read_options(args)
    files = ray_run.read_files(paths, reading) if ray_run else [read_file(p, reading) for p in paths]
    for f in files:
        if f.skipped:
            print(f"lenscribe: skipped {f.path}: {f.skipped}", file=sys.stderr)
    all_chunks = [c for f in files for c in f.chunks]
    # a documented chunk shows its docstring (the same text gives the same hash, and so the same docstring)
    docstrings = {c.hash: text for c in all_chunks if (text := authored(c, args.prefer_docstrings)) is not None}
    model_chunks = [c for c in all_chunks if c.hash not in docstrings]
    cache = open_cache(None if args.no_cache else (args.cache_dir or user_cache_dir()))  # and LENSCRIBE_CACHE_BUNDLE's
    pending: list[tuple[str, str]] = []
    last_write = [time.monotonic()]
    try:
        cached = cache.get_many(summary_id, [c.hash for c in model_chunks]) if model_chunks else {}
        todo = {c.hash: c.text for c in model_chunks if c.hash not in cached}  # once per distinct chunk text
        hashes, texts = list(todo), list(todo.values())
        fresh: dict[str, str] = {}
        if backend is not None:
            model_started = time.perf_counter()
            fresh = ask_backend(backend, cache, [next(c for c in all_chunks if c.hash == h) for h in hashes])
            plan, model_s = [[i] for i in range(len(texts))], time.perf_counter() - model_started
        else:
            plan = plan_batches(token_lengths(tokenizer, model.max_input_tokens, texts), options.batch_size)

        def write() -> None:
            cache.put_many(summary_id, pending)
            pending.clear()
            last_write[0] = time.monotonic()

        def finished(index: int, summaries: list[str]) -> None:
            items = [(hashes[i], s) for i, s in zip(plan[index], summaries, strict=True)]
            fresh.update(items)
            pending.extend(items)
            # Finished batches reach the cache within WRITE_EVERY_S (one transaction for all of them, not one per
            # batch: a cluster finishes hundreds a second): a killed run resumes from there.
            if len(pending) >= WRITE_EVERY_ITEMS or time.monotonic() - last_write[0] >= WRITE_EVERY_S:
                write()

        if backend is None:
            model_started = time.perf_counter()
            if ray_run is None:
                for index, idx in enumerate(plan):
                    finished(index, summarizer.summarize([texts[i] for i in idx]))
            elif plan:
                ray_run.summarize_batches([[texts[i] for i in idx] for idx in plan], model_dir=manifest.model_dir,
                                          options=options, on_batch=finished)
            model_s = time.perf_counter() - model_started
    finally:
        if pending:  # also when interrupted: what finished is kept
            write()
        cache.close()
    elapsed = time.perf_counter() - started

    def row(c) -> dict:
        if c.hash in docstrings:
            return shown(c, "", args.grounding_check, docstring=docstrings[c.hash])
        return shown(c, cached[c.hash] if c.hash in cached else fresh[c.hash], args.grounding_check)

    if args.json:
        out = [
            {
                "path": str(f.path),
                "language": c.language,
                "kind": c.kind,
                "name": c.qualname,
                "start_line": c.start[0] + 1,
                "end_line": c.end[0] + 1,
                **row(c),
                "cached": c.hash in cached,
                "written_by": None if c.hash in docstrings else getattr(fresh.get(c.hash), "written_by", None) or (
                    backend.name if backend is not None else manifest.model_id),
            }
            for f in files
            for c in f.chunks
        ]
        stats = {"executor": args.executor, "chunks": len(all_chunks),
                 "docstrings": sum(c.hash in docstrings for c in all_chunks),
                 "cached": sum(c.hash in cached for c in all_chunks), "summarized": len(texts),
                 "batches": len(plan), "seconds": round(elapsed, 3),
                 "model_seconds": round(model_s, 3), "skipped_files": sum(1 for f in files if f.skipped)}
        if backend is not None:
            stats["backend"] = backend.stats()
        if ray_run is not None:
            stats["ray"] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in ray_run.stats.items()}
        json.dump({"model": manifest.model_id, "summary_id": summary_id, "chunks": out, "stats": stats}, stdout,
                  indent=2)
        stdout.write("\n")
    else:
        for f in files:
            if not f.chunks:
                continue
            print(f.path, file=stdout)
            for c in f.chunks:
                r = row(c)
                print(f"  {c.start[0] + 1}-{c.end[0] + 1}  {c.kind} {c.qualname}", file=stdout)
                for line in text_lines(Summary(r["summary"], r["source"], tuple(r["withheld"]))):
                    print(f"      {line}", file=stdout)
                if r["withheld"]:
                    print(f"      (from the name: the generated summary named {', '.join(r['withheld'])}, which "
                          "the code never mentions)", file=stdout)
        if all_chunks:
            hits = sum(1 for c in all_chunks if c.hash in cached)
            documented = sum(1 for c in all_chunks if c.hash in docstrings)
            print(f"{len(all_chunks)} chunks ({documented} documented, {hits} from the "
                  f"cache, {len(texts)} summarized) in {elapsed:.2f}s ({manifest.model_id}, {args.executor})",
                  file=sys.stderr)
    return 0


def backend_summarizer(args: argparse.Namespace, summarizer, local_id: str):
    """The --backend-url server's BackendSummarizer (the local ``summarizer`` its fallback), or None."""
    if not args.backend_url:
        return None
    from lenscribe.backend import BackendConfig, BackendSummarizer

    config = BackendConfig(url=args.backend_url, model=args.backend_model, api_key_env=args.backend_api_key_env,
                           max_concurrent=max(1, args.backend_max_concurrent), timeout=args.backend_timeout)
    return BackendSummarizer(config, local=lambda: summarizer.summarize, local_id=lambda: local_id)


def ask_backend(backend, cache, chunks: list) -> dict[str, str]:
    """Each chunk's summary from the backend, ``max_concurrent`` requests at a time, each cached as it lands (the
    server's under its id, a fallback under the local model's); chunk hash -> ``Written``."""
    from concurrent.futures import ThreadPoolExecutor

    from lenscribe.backend import BackendRequest

    def one(c) -> tuple[str, str]:
        text = backend.summarize_one(BackendRequest(c.text, c.language, c.kind))
        cache.put_many(getattr(text, "summary_id", None) or backend.summary_id, [(c.hash, str(text))])
        return c.hash, text

    with ThreadPoolExecutor(backend.config.max_concurrent, thread_name_prefix="lenscribe-backend") as pool:
        return dict(pool.map(one, chunks))
