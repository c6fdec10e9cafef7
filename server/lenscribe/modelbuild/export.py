"""Step 2, export: the fp32 ONNX graphs of a T5 checkpoint, in optimum's ``text2text-generation-with-past`` layout.

optimum writes encoder_model.onnx, decoder_model.onnx (first step), decoder_with_past_model.onnx (cached steps) and
decoder_model_merged.onnx (both behind an ``If`` on ``use_cache_branch``). The two separate decoders are what the
quantize step needs; the merged fp32 one is what verify compares against PyTorch to prove the export itself is exact.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lenscribe.modelbuild.deps import quiet_libraries
from lenscribe.modelbuild.errors import BuildError

TASK = "text2text-generation-with-past"
ENCODER = "encoder_model.onnx"
DECODER = "decoder_model.onnx"
DECODER_WITH_PAST = "decoder_with_past_model.onnx"
DECODER_MERGED = "decoder_model_merged.onnx"
EXPORTED = (ENCODER, DECODER, DECODER_WITH_PAST, DECODER_MERGED)
DEFAULT_OPSET = 17


def export_onnx(source_dir: Path, out_dir: Path, opset: int = DEFAULT_OPSET, quiet: bool = True) -> dict[str, Path]:
    """Export ``source_dir`` into ``out_dir`` (emptied first); returns file name -> path of the four graphs.

    optimum's own validation is off: verify runs a stricter check (greedy tokens and teacher-forced logits on code).
    """
    from optimum.exporters.onnx import main_export

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    try:
        with quiet_libraries(quiet):
            main_export(
                str(source_dir),
                output=str(out_dir),
                task=TASK,
                opset=opset,
                device="cpu",
                do_validation=False,
                local_files_only=True,
                library_name="transformers",
            )
    except Exception as e:  # the exporter raises anything from ValueError to RuntimeError
        raise BuildError(f"ONNX export of {source_dir} failed: {type(e).__name__}: {e}") from e
    paths = {name: out_dir / name for name in EXPORTED}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        raise BuildError(f"ONNX export of {source_dir} did not produce {', '.join(missing)}")
    return paths
