"""What every intervention agrees on: where it acts (a Site) and what it sees there (a SiteCall)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from jaxtyping import Bool, Float
from torch import Tensor

__all__ = ["ModelSpec", "Site", "SiteCall", "Intervention", "HookKind", "Phase", "EnergyRecord", "EnergyTrace"]

HookKind = Literal["resid_pre"]
Phase = Literal["prefill", "decode"]


@dataclass(frozen=True)
class ModelSpec:
    """The facts a policy is tied to: it may only steer a model that matches all three."""

    model_id: str
    n_layers: int
    d_model: int


@dataclass(frozen=True, order=True)
class Site:
    """A place to read or write: the residual stream at the input of decoder block ``layer``.

    Each backend maps a Site to its own address once, at attach time: TransformerLens
    ``blocks.{layer}.hook_resid_pre``, nnsight ``model.layers[layer].input``.
    """

    layer: int
    kind: HookKind = "resid_pre"


@dataclass(frozen=True)
class EnergyRecord:
    """Energy of one hidden state before and after steering at one layer and token."""

    layer: int
    phase: Phase
    step: int
    row: int
    position: int
    energy_before: float
    energy_after: float
    n_steps: int
    nonfinite: bool = False


@dataclass
class EnergyTrace:
    """Records written by energy-based interventions while a steering context is open."""

    records: list[EnergyRecord] = field(default_factory=list)

    @property
    def nonfinite_count(self) -> int:
        """How many states were left unsteered because their energy or gradient was NaN or infinite."""
        return sum(record.nonfinite for record in self.records)

    def reset(self) -> None:
        self.records.clear()


@dataclass(frozen=True)
class SiteCall:
    """What an intervention is told at each call: where, when, and which positions are real tokens.

    Attributes:
        site: The site being run.
        phase: ``"prefill"`` for the prompt pass, ``"decode"`` for each generated token.
        step: 0 at prefill, then the index of the generated token.
        real: True at positions that hold tokens, False at left padding; shape ``[batch, pos]``.
        trace: Where to record energies, or None.
    """

    site: Site
    phase: Phase
    step: int
    real: Bool[Tensor, "batch pos"]
    trace: EnergyTrace | None = None


@runtime_checkable
class Intervention(Protocol):
    """Edits the hidden state at its sites; the same object runs on every backend."""

    @property
    def sites(self) -> tuple[Site, ...]:
        """The sites this intervention acts on."""
        ...

    def __call__(self, hidden: Float[Tensor, "batch pos d_model"], call: SiteCall) -> Float[Tensor, "batch pos d_model"]:
        """Return the edited hidden state (a new tensor; the input is not modified)."""
        ...
