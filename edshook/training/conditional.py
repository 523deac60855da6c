"""Training a conditional policy: a harmfulness probe and one energy per kind of prompt."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import torch
from jaxtyping import Bool, Float
from torch import Tensor
from tqdm.auto import tqdm

from edshook.errors import TrainingError
from edshook.interventions import (
    ConditionalSteering,
    EnergySteering,
    LinearProbe,
    NormConstraint,
    PositionSelector,
    StepSchedule,
)
from edshook.training.activations import ActivationSet
from edshook.training.trainer import (
    TRAINED_POSITIONS,
    TRAINED_SCHEDULE,
    TrainConfig,
    TrainedEnergies,
    calibrate,
    train_energies,
    validation_rows,
)

__all__ = [
    "ConditionalParts",
    "ProbeReport",
    "SourceTransfer",
    "TrainedProbes",
    "fit_probe",
    "source_transfer",
    "train_conditional",
    "train_conditional_parts",
    "train_probes",
]


@dataclass(frozen=True)
class ProbeReport:
    """Validation figures of a harmfulness probe (validation rows are never trained on)."""

    layers: tuple[int, ...]
    val_accuracy: float
    val_auc: float


@dataclass(frozen=True)
class TrainedProbes:
    """One harmfulness probe per layer and their validation reports."""

    probes: dict[int, LinearProbe]
    reports: dict[int, ProbeReport]

    def best(self, max_layer: int | None = None) -> LinearProbe:
        """The probe with the best validation accuracy (ties: the earlier layer), up to ``max_layer``."""
        layers = [layer for layer in self.reports if max_layer is None or layer <= max_layer]
        if not layers:
            raise TrainingError(f"No probe was trained at or below layer {max_layer}.")
        return self.probes[max(layers, key=lambda layer: (self.reports[layer].val_accuracy, -layer))]


def train_probes(
    activations: ActivationSet,
    layers: Sequence[int] | None = None,
    config: TrainConfig = TrainConfig(),
    *,
    l2: float = 1e-3,
    progress: bool = True,
) -> TrainedProbes:
    """Fit a logistic harmfulness probe per layer on the prompts' ground truth (not the model's answers).

    Uses the same held-out rows as :func:`train_energies`; full-batch L-BFGS with an L2 penalty.
    """
    harmful = activations.harmful
    if bool(harmful.all()) or not bool(harmful.any()):
        raise TrainingError(
            f"All {len(activations)} prompts are {'harmful' if bool(harmful.all()) else 'benign'}; "
            "a harmfulness probe needs both. Fix: collect harmful and benign prompts."
        )
    probes, reports = {}, {}
    chosen = list(activations.layers if layers is None else layers)
    for layer in tqdm(chosen, desc="train probes", unit="layer", disable=not progress):
        probes[layer], reports[layer] = fit_probe(activations, (layer,), config, l2=l2)
    return TrainedProbes(probes, reports)


def fit_probe(
    activations: ActivationSet, layers: Sequence[int], config: TrainConfig = TrainConfig(), *, l2: float = 1e-3
) -> tuple[LinearProbe, ProbeReport]:
    """One harmfulness probe reading ``layers`` side by side, and its validation report."""
    harmful = activations.harmful
    is_val = validation_rows(activations.ids, config)
    x = torch.stack([activations.layer(layer).float() for layer in sorted(layers)], dim=1)
    probe = _fit(LinearProbe(layers, x.shape[-1]), x[~is_val], harmful[~is_val], l2)
    with torch.no_grad():
        scores = probe(x[is_val])
    _, _, auc = calibrate(scores[~harmful[is_val]], scores[harmful[is_val]])
    accuracy = float(((scores >= 0) == harmful[is_val]).float().mean())
    return probe.eval(), ProbeReport(probe.layers, accuracy, auc)


@dataclass(frozen=True)
class SourceTransfer:
    """How a probe fitted without one benign and one harmful source scores those two sources."""

    benign: str
    harmful: str
    auc: float
    benign_above: float
    harmful_above: float


def source_transfer(
    activations: ActivationSet,
    layers: Sequence[int],
    config: TrainConfig = TrainConfig(),
    *,
    threshold: float = 0.5,
    l2: float = 1e-3,
) -> list[SourceTransfer]:
    """Leave-source-out: for each pair of a benign and a harmful source (the id before ``:``), fit the
    probe on the other sources and score the two held out; ``*_above`` are shares above ``threshold``.

    Validation accuracy inside the training sources says little about prompts unlike them; this
    says how the probe reads a source it has never seen, without a test prompt.
    """
    sources = [prompt_id.split(":", 1)[0] for prompt_id in activations.ids]
    harmful = activations.harmful.tolist()
    kinds = {kind: sorted({s for s, h in zip(sources, harmful, strict=True) if h == kind}) for kind in (False, True)}
    if len(kinds[False]) < 2 or len(kinds[True]) < 2:
        raise TrainingError(
            f"Leave-source-out needs two benign and two harmful sources; got {kinds[False]} and {kinds[True]}."
        )
    x = torch.stack([activations.layer(layer).float() for layer in sorted(layers)], dim=1)
    transfers = []
    for benign, bad in product(kinds[False], kinds[True]):
        held = torch.tensor([s in (benign, bad) for s in sources])
        probe, _ = fit_probe(activations.subset(~held), layers, config, l2=l2)
        with torch.no_grad():
            score = torch.sigmoid(probe(x[held]))
        is_bad = activations.harmful[held]
        _, _, auc = calibrate(score[~is_bad], score[is_bad])
        above = score > threshold
        transfers.append(
            SourceTransfer(benign, bad, auc, float(above[~is_bad].float().mean()), float(above[is_bad].float().mean()))
        )
    return transfers


def _fit(probe: LinearProbe, x: Float[Tensor, "n layer d"], y: Bool[Tensor, " n"], l2: float) -> LinearProbe:
    optimiser = torch.optim.LBFGS(probe.parameters(), max_iter=200, line_search_fn="strong_wolfe")
    target = y.float()

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(probe(x), target)
        loss = loss + l2 * probe.linear.weight.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return probe


@dataclass(frozen=True)
class ConditionalParts:
    """The trained pieces of a conditional policy, before its steering settings are chosen."""

    probe: LinearProbe
    probe_report: ProbeReport
    benign: TrainedEnergies
    harmful: TrainedEnergies | None
    activations: ActivationSet

    def policy(
        self,
        *,
        k: int = 3,
        benign_schedule: StepSchedule = TRAINED_SCHEDULE,
        harmful_schedule: StepSchedule = TRAINED_SCHEDULE,
        constraint: NormConstraint = NormConstraint(),
        positions: PositionSelector = TRAINED_POSITIONS,
        benign_below: float = 0.5,
        harmful_above: float = 0.5,
    ) -> ConditionalSteering:
        """The policy with these settings; each energy keeps its top ``k`` layers."""

        def part(trained: TrainedEnergies, schedule: StepSchedule) -> EnergySteering:
            return trained.policy(
                k, schedule=schedule, constraint=constraint, positions=positions, activations=self.activations
            )

        benign = part(self.benign, benign_schedule)
        harmful = None if self.harmful is None else part(self.harmful, harmful_schedule)
        report = self.probe_report
        probe = {"layers": list(report.layers), "val_accuracy": report.val_accuracy, "val_auc": report.val_auc}
        metadata = {"probe": probe}
        return ConditionalSteering(
            self.probe, benign, harmful, benign_below=benign_below, harmful_above=harmful_above, metadata=metadata
        )


def train_conditional_parts(
    activations: ActivationSet,
    *,
    config: TrainConfig = TrainConfig(),
    probe_layers: Sequence[int] | None = None,
    probe_window: int = 1,
    progress: bool = True,
) -> ConditionalParts:
    """The probe and the two energies of a conditional policy, from one activation cache.

    - The probe learns harmful vs benign prompts. It reads ``probe_layers`` if given; else the layer
      with the best single-layer validation accuracy in the first two thirds of the model and the
      ``probe_window - 1`` layers before it.
    - The benign energy learns false refusal (high) vs helpful answer (low) on benign prompts; the
      harmful energy learns jailbreak (high) vs safe refusal (low) on harmful prompts, each on every
      layer at or after the probe's decision layer.
    - Without both answers among the harmful prompts (e.g. the model refused all of them) there is
      no harmful energy: a warning says so and harmful prompts are left unsteered.
    """
    if probe_layers is None:
        n_layers = activations.model.n_layers
        candidates = [layer for layer in activations.layers if layer < 2 * n_layers // 3]
        best = train_probes(activations, candidates or None, config, progress=progress).best().layer
        probe_layers = [layer for layer in activations.layers if best - probe_window < layer <= best]
    probe, report = fit_probe(activations, probe_layers, config)
    later = [layer for layer in activations.layers if layer >= probe.layer]
    harmful = activations.harmful
    benign_energies = train_energies(activations.subset(~harmful), later, config, progress=progress)
    try:
        harmful_energies: TrainedEnergies | None = train_energies(
            activations.subset(harmful), later, config, progress=progress
        )
    except TrainingError as err:
        warnings.warn(
            f"No harmful energy ({err}); harmful prompts will be left unsteered.", RuntimeWarning, stacklevel=2
        )
        harmful_energies = None
    return ConditionalParts(probe, report, benign_energies, harmful_energies, activations)


def train_conditional(
    activations: ActivationSet,
    *,
    k: int = 3,
    config: TrainConfig = TrainConfig(),
    benign_schedule: StepSchedule = TRAINED_SCHEDULE,
    harmful_schedule: StepSchedule = TRAINED_SCHEDULE,
    probe_threshold: float = 0.5,
    constraint: NormConstraint = NormConstraint(),
    positions: PositionSelector = TRAINED_POSITIONS,
    probe_layers: Sequence[int] | None = None,
    probe_window: int = 1,
    progress: bool = True,
) -> ConditionalSteering:
    """A :class:`ConditionalSteering` policy from one activation cache (see :func:`train_conditional_parts`)."""
    parts = train_conditional_parts(
        activations, config=config, probe_layers=probe_layers, probe_window=probe_window, progress=progress
    )
    return parts.policy(
        k=k, benign_schedule=benign_schedule, harmful_schedule=harmful_schedule, constraint=constraint,
        positions=positions, benign_below=probe_threshold, harmful_above=probe_threshold,
    )  # fmt: skip
