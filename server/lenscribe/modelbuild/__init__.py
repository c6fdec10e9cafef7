"""Building a lenscribe model directory from a Hugging Face T5/CodeT5 checkpoint: ``lenscribe model build|clean``.

The pipeline is fetch -> export -> quantize -> verify -> publish, each a plain function in its own module so it can be
run and tested alone; ``pipeline.build`` strings them together with checkpoints under ``DIR/work``.
Only this package imports torch, transformers and optimum (the optional ``[build]`` extra), and only inside the
functions that need them, so ``lenscribe`` itself starts without them.
"""

from lenscribe.modelbuild.errors import BuildError, VerifyFailed

__all__ = ["BuildError", "VerifyFailed"]
