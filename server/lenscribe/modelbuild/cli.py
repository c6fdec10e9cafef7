"""``lenscribe model build SOURCE --out DIR`` and ``lenscribe model clean DIR``.

Importing this module is cheap and needs no build dependency: ``lenscribe --help`` must work on a run-time-only install,
and the missing-``[build]`` error belongs to the moment someone actually builds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lenscribe.modelbuild.errors import BuildError, VerifyFailed

EXIT_ERROR = 1
EXIT_VERIFY_FAILED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "model", help="build or clean an int8 ONNX model directory (needs the [build] extra)"
    )
    sub = parser.add_subparsers(dest="model_command", required=True, metavar="{build,clean}")
    _add_build(sub)
    _add_clean(sub)


def _add_build(sub: argparse._SubParsersAction) -> None:
    from lenscribe.decoding import DEFAULT_MAX_NEW_TOKENS
    from lenscribe.modelbuild.quantize import KEEP_FP32_PRESETS
    from lenscribe.modelbuild.verify import VerifyThresholds

    t = VerifyThresholds()
    p = sub.add_parser(
        "build",
        help="fetch a T5/CodeT5 checkpoint, export to ONNX, quantize to int8, verify against PyTorch, write manifest",
        description="Steps are checkpointed in DIR/work and skipped when their inputs are unchanged.",
    )
    p.add_argument(
        "source", metavar="SOURCE", help="save_pretrained directory, or hub id like Salesforce/codet5-base-multi-sum"
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="model directory to create or update")
    p.add_argument("--force", action="store_true", help="redo every step")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    p.add_argument(
        "--max-input-tokens", type=int, default=512, help="input limit recorded for run time (default: %(default)s)"
    )
    p.add_argument("--name", help="model name in the manifest (default: the source's name)")
    p.add_argument("--revision", help="hub revision (branch, tag or commit)")
    p.add_argument(
        "--samples", type=Path, metavar="FILE", help='verify snippets: JSONL of {"code": ...} (default: built-in)'
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=DEFAULT_MAX_NEW_TOKENS,
        help="greedy length in verify (default: %(default)s)",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch/onnxruntime threads for export and verify (default: all cores; 1 is faster on busy machines)",
    )
    q = p.add_argument_group("quantization")
    q.add_argument("--per-channel", action="store_true", help="per-channel weight scales")
    q.add_argument("--reduce-range", action="store_true", help="7-bit weights (CPUs without VNNI)")
    q.add_argument(
        "--keep-fp32",
        default="",
        metavar="LIST",
        help=f"comma-separated nodes to leave fp32: presets ({', '.join(KEEP_FP32_PRESETS)}) or exact node names",
    )
    v = p.add_argument_group("verify gate")
    v.add_argument(
        "--no-verify-gate",
        dest="verify_gate",
        action="store_false",
        help="publish the model even if verify fails (the manifest records the failure)",
    )
    v.add_argument(
        "--min-token-agreement", type=float, default=t.min_int8_token_agreement, help="int8 (default: %(default)s)"
    )
    v.add_argument("--min-exact-match", type=float, default=t.min_int8_exact_match, help="int8 (default: %(default)s)")
    v.add_argument("--min-forced-top1", type=float, default=t.min_int8_forced_top1, help="int8 (default: %(default)s)")
    v.add_argument("--max-int8-drift", type=float, default=t.max_int8_drift, help="int8 max logit drift (default: off)")
    v.add_argument("--max-fp32-drift", type=float, default=t.max_fp32_drift, help="fp32 (default: %(default)s)")
    p.set_defaults(func=run_build)


def _add_clean(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clean", help="remove a model directory's work files (DIR/work)")
    p.add_argument("out", type=Path, metavar="DIR")
    p.add_argument("--all", dest="all_files", action="store_true", help="also remove the built model files")
    p.set_defaults(func=run_clean)


def options_from_args(args: argparse.Namespace):
    from lenscribe.modelbuild.pipeline import BuildOptions
    from lenscribe.modelbuild.quantize import QuantizeOptions
    from lenscribe.modelbuild.verify import VerifyThresholds

    keep = tuple(x.strip() for x in args.keep_fp32.split(",") if x.strip())
    return BuildOptions(
        source=args.source,
        out_dir=args.out,
        force=args.force,
        opset=args.opset,
        max_input_tokens=args.max_input_tokens,
        max_new_tokens=args.max_new_tokens,
        name=args.name,
        samples=args.samples,
        revision=args.revision,
        quantize=QuantizeOptions(per_channel=args.per_channel, reduce_range=args.reduce_range, keep_fp32=keep),
        thresholds=VerifyThresholds(
            max_fp32_drift=args.max_fp32_drift,
            min_int8_token_agreement=args.min_token_agreement,
            min_int8_exact_match=args.min_exact_match,
            min_int8_forced_top1=args.min_forced_top1,
            max_int8_drift=args.max_int8_drift,
        ),
        verify_gate=args.verify_gate,
        threads=args.threads,
    )


def run_build(args: argparse.Namespace) -> int:
    from lenscribe.modelbuild.pipeline import build

    try:
        result = build(options_from_args(args))
    except VerifyFailed as e:
        print(f"lenscribe model build: {e}", file=sys.stderr)
        return EXIT_VERIFY_FAILED
    except BuildError as e:
        print(f"lenscribe model build: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(f"lenscribe model build: model ready in {result.out_dir}", file=sys.stderr)
    return 0


def run_clean(args: argparse.Namespace) -> int:
    from lenscribe.modelbuild.pipeline import clean

    try:
        removed = clean(args.out, all_files=args.all_files)
    except BuildError as e:
        print(f"lenscribe model clean: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(f"lenscribe model clean: removed {len(removed)} item(s) from {args.out}", file=sys.stderr)
    return 0
