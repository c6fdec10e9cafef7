"""lenscribe: two-line summaries of every function and class, from a local quantized CodeT5 model."""

import os as _os

# No network at run time: onnxruntime (1.29 and later) sends usage telemetry from Linux and macOS too -- a DNS lookup
# within seconds of the first session, then uploads, with a queue and a device id under ~/.cache/Microsoft.
# ORT_DISABLE_TELEMETRY=1, set before onnxruntime initializes, is its full opt-out (no uploader, no files); set here,
# before anything in lenscribe imports onnxruntime, and forced: a value inherited from the environment does not turn
# it back on.
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
