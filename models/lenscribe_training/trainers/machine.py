"""The machine a run trains on, for both trainers: the device and precision, and what the run records of it."""

from __future__ import annotations

import os
import platform

import torch


def native_cpu_bf16() -> bool:
    """The CPU multiplies bf16 in hardware (AVX512-BF16 or AMX): autocast to bf16 then makes matmuls ~2x faster."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def pick_device(device: str, precision: str, threads: int | None,
                cpu_bf16: bool = False) -> tuple[torch.device, torch.dtype | None]:
    """The device ("auto": a GPU when torch sees one), the autocast dtype (bf16 on a GPU or when asked, and with
    ``cpu_bf16`` on a CPU that has native bf16; None: fp32), TF32 matmuls on a GPU, the CPU thread count (both
    trainers; train.py keeps fp32 on every CPU, as its recorded stages ran)."""
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    amp = None
    auto_bf16 = dev.type == "cuda" or (cpu_bf16 and dev.type == "cpu" and native_cpu_bf16())
    if precision == "bf16" or (precision == "auto" and auto_bf16):
        amp = torch.bfloat16  # never fp16 for T5: activations overflow
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if threads:
        torch.set_num_threads(threads)
    return dev, amp


def hardware(device: torch.device, detail: bool = False) -> dict:
    """The device, library versions and CPU count of a run; ``detail`` (train.py's record) adds the platform, the
    transformers version and, on a GPU, the CUDA version."""
    if detail:
        import transformers

        info: dict = {"device": str(device), "platform": platform.platform(), "python": platform.python_version(),
                "torch": torch.__version__, "transformers": transformers.__version__, "cpu_count": os.cpu_count()}
    else:
        info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(),
                "cpu_count": os.cpu_count()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info |= {"gpu": p.name, "gpu_memory_gib": round(p.total_memory / 2**30, 1)}
        if detail:
            info["cuda"] = torch.version.cuda
    return info
