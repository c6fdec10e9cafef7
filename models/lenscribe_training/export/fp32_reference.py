#!/usr/bin/env python3
"""Publish the fp32 ONNX export of a build as its own model directory, to score int8 against fp32 with `lenscribe eval`.

    PYTHONPATH=models:server python -m lenscribe_training.export.fp32_reference BUILD_DIR DEST

BUILD_DIR is a `lenscribe model build --out` directory that still has its ``work/`` (run this before
`lenscribe model clean`). DEST gets the fp32 encoder and decoder step, the tokenizer and config, and a manifest whose
name ends in ``-fp32`` and whose quantization says ``none``: a different model id, so caches never mix the two.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER
from lenscribe.modelbuild.pipeline import WORK
from lenscribe.modelbuild.publish import publish
from lenscribe.modelfiles import ModelError, load_manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("build_dir", type=Path)
    p.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    try:
        manifest = load_manifest(args.build_dir)
    except ModelError as e:
        print(f"fp32_reference: {e}", file=sys.stderr)
        return 2
    fp32 = args.build_dir / WORK / "onnx-fp32"
    if not (fp32 / ENCODER).is_file() or not (fp32 / DECODER_WITH_PAST).is_file():
        print(f"fp32_reference: no fp32 export in {fp32} (was the build cleaned?)", file=sys.stderr)
        return 2
    raw = {k: v for k, v in manifest.raw.items() if k != "files"}
    raw["name"] = f"{raw.get('name', 'model')}-fp32"
    raw["quantization"] = {"weight_type": "none", "note": "fp32 export of the same build, for comparison"}
    sources = {
        "encoder": fp32 / ENCODER,
        "decoder": fp32 / DECODER_WITH_PAST,
        "tokenizer": args.build_dir / "tokenizer.json",
        "config": args.build_dir / "config.json",
    }
    publish(args.dest, sources, raw)
    print(load_manifest(args.dest).model_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
