"""What every intervention agrees on: where it acts (a Site) and what it is told there (a SiteCall)."""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from jaxtyping import Bool, Float
from torch import Tensor

__all__ = [
    "NONFINITE",
    "EnergyRecord",
    "EnergyTrace",
    "HookKind",
    "Intervention",
    "ModelSpec",
    "Phase",
    "RouteRecord",
    "Site",
    "SiteCall",
]

HookKind = Literal["resid_pre"]
Phase = Literal["prefill", "decode"]

NONFINITE = "nonfinite_states"
"""Key of :attr:`SiteCall.state` where energy-based interventions count states left unsteered
because their energy or gradient was NaN or infinite; the backend warns once per run if it is > 0."""


@dataclass(frozen=True)
class ModelSpec:
    """The facts a policy is tied to: it may only steer a model that matches all three."""

    model_id: str
    n_layers: int
    d_model: int

    def differences(self, other: ModelSpec) -> list[str]:
        """Each fact on which ``other`` differs from this spec, as ``"name: ours, theirs"``."""
        names = ("model id", "n_layers", "d_model")
        pairs = zip(names, astuple(self), astuple(other), strict=True)
        return [f"{name}: policy {ours!r}, model {theirs!r}" for name, ours, theirs in pairs if ours != theirs]


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
    """Energy of one hidden state before and after steering at one layer and token.

    ``prompt`` is the index of the prompt in the list the caller passed, whatever order the
    backend batched it in; ``position`` is the column in that forward pass.
    """

    layer: int
    phase: Phase
    step: int
    prompt: int
    position: int
    energy_before: float
    energy_after: float
    n_steps: int
    nonfinite: bool = False


@dataclass(frozen=True)
class RouteRecord:
    """Where a routing policy sent one prompt: its probe score and the part that steers it."""

    prompt: int
    score: float
    route: Literal["benign", "harmful", "none"]


@dataclass
class EnergyTrace:
    """Records written by interventions while a steering context with ``record=True`` is open."""

    records: list[EnergyRecord] = field(default_factory=list)
    routes: list[RouteRecord] = field(default_factory=list)

    def reset(self) -> None:
        self.records.clear()
        self.routes.clear()


@dataclass(frozen=True)
class SiteCall:
    """What an intervention is told at each call: where, when, which positions are real tokens.

    Attributes:
        site: The site being run.
        phase: ``"prefill"`` for the prompt pass, ``"decode"`` for each generated token.
        step: 0 at prefill, then the index of the generated token.
        real: True at positions that hold tokens, False at left padding; shape ``[batch, pos]``.
        prompts: For each batch row, the index of its prompt in the caller's list.
        state: Memory shared by every call of one decoding run (prefill and each decode step),
            and by no other run: where an intervention keeps per-run decisions, keyed by itself.
        trace: Where to record energies and routes, or None.
    """

    site: Site
    phase: Phase
    step: int
    real: Bool[Tensor, "batch pos"]
    prompts: tuple[int, ...] = ()
    state: dict[Any, Any] = field(default_factory=dict)
    trace: EnergyTrace | None = None

    def prompt(self, row: int) -> int:
        """The caller's index of batch row ``row`` (the row itself when the backend gave none)."""
        return self.prompts[row] if self.prompts else row

    def count_nonfinite(self, bad: Bool[Tensor, " n"]) -> None:
        """Add ``bad.sum()`` to this run's count of unsteerable states, without a host sync."""
        count = bad.sum()
        previous = self.state.get(NONFINITE)
        self.state[NONFINITE] = count if previous is None else previous + count.to(previous.device)


@runtime_checkable
class Intervention(Protocol):
    """Edits the hidden state at its sites; the same object runs on every backend.

    An intervention that holds tensors may also define ``place(devices)`` (site -> device): the
    backend calls it when attaching, so each part lives where its site's hidden state does.
    """

    @property
    def sites(self) -> tuple[Site, ...]:
        """The sites this intervention acts on."""
        ...

    def __call__(
        self, hidden: Float[Tensor, "batch pos d_model"], call: SiteCall
    ) -> Float[Tensor, "batch pos d_model"]:
        """Return the edited hidden state (a new tensor; the input is not modified)."""
        ...
