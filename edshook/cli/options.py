"""What the commands share: typed choices, option declarations, model loading, run records."""

from __future__ import annotations

from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from edshook.data.selection import Part
from edshook.models import DEFAULT_MODEL
from edshook.records import write_record

__all__ = [
    "BackendOption",
    "DataDirOption",
    "DeviceMapOption",
    "DeviceOption",
    "DtypeOption",
    "JudgeOption",
    "Library",
    "LimitOption",
    "ModelOption",
    "Precision",
    "SetsOption",
    "Split",
    "open_backend",
    "record",
    "set_names",
]


class Library(StrEnum):
    """The interpretability library a backend runs on."""

    transformer_lens = "transformer_lens"
    nnsight = "nnsight"


class Precision(StrEnum):
    """Weight dtype; ``auto`` is bfloat16 where the device runs it natively, float32 elsewhere."""

    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class Split(StrEnum):
    """A part of the standard splits."""

    train = "train"
    val = "val"
    test = "test"

    @property
    def part(self) -> Part:
        return self.value


class JudgeName(StrEnum):
    """Who reads the answers: keywords, a judge model, or both."""

    substring = "substring"
    model = "model"
    both = "both"


ModelOption = Annotated[str, typer.Option("--model", "-m", help="Embedded name, .gguf file, folder or hub id.")]
BackendOption = Annotated[Library, typer.Option("--backend", "-b", help="The library that runs the model.")]
DtypeOption = Annotated[Precision, typer.Option(help="Weight dtype (auto: bfloat16 where native, else float32).")]
DeviceOption = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ... (default: cuda when present, else cpu).")]
DeviceMapOption = Annotated[
    str | None, typer.Option(help="Split the model across devices with accelerate, e.g. 'auto' (replaces --device).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Folder of prompt sets (else $EDSHOOK_DATA).")]
LimitOption = Annotated[int | None, typer.Option(help="Sample this many prompts per set (by id hash).")]
SetsOption = Annotated[str | None, typer.Option(help="Comma-separated set names (see `edshook data`).")]
JudgeOption = Annotated[
    JudgeName, typer.Option(help="Who reads the answers: substring keywords, the model judge, or both.")
]


def set_names(sets: str | None) -> tuple[str, ...]:
    """``"a, b"`` -> ``("a", "b")``."""
    return tuple(name.strip() for name in (sets or "").split(",") if name.strip())


def open_backend(
    model: str = DEFAULT_MODEL,
    library: Library = Library.nnsight,
    dtype: Precision = Precision.auto,
    device: str | None = None,
    device_map: str | None = None,
) -> Any:
    """Load the model (saying where and in which dtype) behind a backend."""
    from edshook.backends import make_backend
    from edshook.models import load_model

    try:
        loaded = load_model(model, dtype=dtype.value, device=device, device_map=device_map)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    auto = " (auto)" if dtype is Precision.auto else ""
    typer.echo(f"model: {loaded.describe()}{auto}", err=True)
    return make_backend(loaded, library.value)


def record(folder: Path, command: str, arguments: dict[str, Any], *, data_ids: Any = None, backend: Any = None) -> None:
    """Write the run record of a command: its own arguments, and where the model ran."""
    settings = {k: v.value if isinstance(v, Enum) else v for k, v in arguments.items() if _plain(v)}
    resolved = None if backend is None else {"model": backend.loaded.describe(), "dtype": str(backend.loaded.dtype)}
    write_record(folder, command, settings, data_ids=data_ids, resolved=resolved)


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, Path, Enum, type(None)))
