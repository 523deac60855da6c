"""One function to load any causal LM: an embedded name, a GGUF file, a local folder or a hub id."""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from edshook.errors import ModelLoadError, UnknownModelError
from edshook.models.embedded import DEFAULT_MODEL, EMBEDDED_MODELS, EmbeddedModel, assemble_gguf
from edshook.models.placement import DtypeChoice, resolve_device, resolve_dtype

__all__ = ["LoadedModel", "cache_dir", "load_model"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A causal LM with its tokenizer and the id that policies and caches are tied to."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    model_id: str

    @property
    def n_layers(self) -> int:
        return int(self.model.config.get_text_config().num_hidden_layers)

    @property
    def d_model(self) -> int:
        return int(self.model.config.get_text_config().hidden_size)

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    @property
    def devices(self) -> tuple[torch.device, ...]:
        """Every device holding weights, in order of first use (one, unless the model is split)."""
        return tuple(dict.fromkeys(p.device for p in self.model.parameters()))

    def describe(self) -> str:
        """One line for logs and run records, e.g. ``qwen2.5-coder-0.5b-instruct on cpu in float32``."""
        where = ", ".join(map(str, self.devices))
        return f"{self.model_id} on {where} in {str(self.dtype).removeprefix('torch.')}"


def cache_dir() -> Path:
    """Where de-quantised embedded models live: ``$EDSHOOK_CACHE``, else the user's cache folder."""
    if env := os.environ.get("EDSHOOK_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edshook"


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    dtype: DtypeChoice | torch.dtype = "auto",
    device: str | torch.device | None = None,
    device_map: str | dict[str, Any] | None = None,
    attn_implementation: str | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer, in eval mode.

    Args:
        name: An embedded model (``edshook.EMBEDDED_MODELS``), a ``.gguf`` file, a local
            Hugging Face folder, or a hub id such as ``"Qwen/Qwen2.5-0.5B-Instruct"``.
        dtype: Weight dtype; ``"auto"`` is bfloat16 where the device runs it natively (GPUs, CPUs
            with AVX-512 BF16 or AMX) and float32 elsewhere, where bfloat16 is about 4x slower.
        device: Where to put the model (default: CUDA when present, else the CPU).
        device_map: Split the model across devices with accelerate (``"auto"`` fills the GPUs in
            order, then the CPU); replaces ``device``.
        attn_implementation: Passed to transformers (``"eager"``, ``"sdpa"``); ``None`` keeps its default.

    Examples:
        >>> loaded = load_model("qwen2.5-coder-0.5b-instruct")  # doctest: +SKIP
        >>> loaded.n_layers, loaded.d_model  # doctest: +SKIP
        (24, 896)
    """
    placed = resolve_device(device) if device_map is None else _first_device(device_map)
    options: dict[str, Any] = {"dtype": resolve_dtype(dtype, placed), "attn_implementation": attn_implementation}
    if device_map is not None:
        options["device_map"] = device_map
    path = Path(name).expanduser()
    if name in EMBEDDED_MODELS:
        folder = _embedded_folder(EMBEDDED_MODELS[name])
        model, tokenizer = _from_folder(folder, name, options)
    elif path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file {path} does not exist. Fix: check the path.")
        model, tokenizer = _from_gguf(path, options)
    elif path.is_dir():
        model, tokenizer = _from_folder(path, name, options)
    elif "/" in name and not path.exists():
        model, tokenizer = _from_folder(name, name, options)
    else:
        known = ", ".join(sorted(EMBEDDED_MODELS))
        raise UnknownModelError(
            f"Unknown model {name!r}: not an embedded model, a .gguf file, a local folder or a hub id "
            f"(owner/name). Embedded models: {known}."
        )
    if device_map is None:
        model.to(placed)  # type: ignore[arg-type]
    model.eval()  # type: ignore[no-untyped-call]
    return LoadedModel(model=model, tokenizer=tokenizer, model_id=name)


def _first_device(device_map: str | dict[str, Any]) -> torch.device:
    """The device the dtype is chosen for when accelerate places the model: the first GPU if any."""
    if isinstance(device_map, dict):
        first = next(iter(device_map.values()), "cpu")
        return torch.device(f"cuda:{first}" if isinstance(first, int) else first)
    return resolve_device(None)


def _from_folder(
    source: str | Path, name: str, options: dict[str, Any]
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **options)
    except OSError as err:
        raise ModelLoadError(
            f"Could not load {name!r}: {err}. Fix: pass an embedded model name, a local folder, or a hub id "
            f"that is reachable (unset HF_HUB_OFFLINE or download it first)."
        ) from err
    return model, tokenizer


def _from_gguf(path: Path, options: dict[str, Any]) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """De-quantise a GGUF file; the result has no quantizer left and names its architecture."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, **options)
    except ImportError as err:
        raise ModelLoadError(f"Loading a GGUF file needs the 'gguf' package: pip install gguf ({err})") from err
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    return model, tokenizer


def _embedded_folder(spec: EmbeddedModel) -> Path:
    """The de-quantised safetensors folder of an embedded model, made once and reused.

    A file lock makes a second process that loads the model meanwhile wait for the first
    conversion instead of writing the same files at the same time.
    """
    folder = cache_dir() / spec.name
    converted = folder / "hf"
    if (converted / "config.json").is_file():
        return converted
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / "convert.lock"):
        if (converted / "config.json").is_file():
            return converted
        started = time.perf_counter()
        gguf = assemble_gguf(spec, folder / spec.gguf_name)
        model, tokenizer = _from_gguf(gguf, {"dtype": torch.float32})
        staging = folder / "hf.partial"
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(converted)
        gguf.unlink()
    logger.warning("cached %s as safetensors in %s (%.0f s, once)", spec.name, converted, time.perf_counter() - started)
    return converted
