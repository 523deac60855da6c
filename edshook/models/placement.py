"""Where a model runs and in which precision: the ``device`` and ``dtype`` choices, resolved once."""

from __future__ import annotations

import logging
from typing import Literal

import torch

__all__ = ["DtypeChoice", "default_device", "native_bfloat16", "resolve_device", "resolve_dtype"]

DtypeChoice = Literal["auto", "float32", "bfloat16", "float16"]

logger = logging.getLogger(__name__)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device``, or :func:`default_device` for None; an unavailable CUDA device is a clear error."""
    chosen = default_device() if device is None else torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(chosen)!r} was asked for, but no CUDA GPU is available. Fix: --device cpu.")
    return chosen


def native_bfloat16(device: torch.device) -> bool:
    """Whether bfloat16 matrix work runs natively on ``device`` (else it is emulated, and slow).

    GPUs: whatever CUDA reports. CPUs: x86 with AVX-512 BF16 or AMX, used by PyTorch's kernels
    (``ATEN_CPU_CAPABILITY=avx2`` turns them off, and this then says False). On a CPU without
    them bfloat16 decoding runs about 4x slower than float32.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    supported = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return supported and str(torch.backends.cpu.get_cpu_capability()).startswith("AVX512")


def resolve_dtype(choice: DtypeChoice | torch.dtype, device: torch.device) -> torch.dtype:
    """The weight dtype for ``choice`` on ``device``: ``"auto"`` is bfloat16 where it is native, else float32.

    Examples:
        >>> resolve_dtype("float32", torch.device("cpu"))
        torch.float32
    """
    if isinstance(choice, torch.dtype):
        return choice
    if choice == "auto":
        native = native_bfloat16(device)
        dtype = torch.bfloat16 if native else torch.float32
        reason = "native bfloat16" if native else "no native bfloat16"
        logger.info("dtype auto -> %s on %s (%s)", str(dtype).removeprefix("torch."), device, reason)
        return dtype
    options = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if choice not in options:
        raise ValueError(f"Unknown dtype {choice!r}; choose one of auto, {', '.join(options)}.")
    return options[choice]
