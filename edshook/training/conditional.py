"""Training a conditional policy: a harmfulness probe and one energy per kind of prompt."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

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
from edshook.training.trainer import TrainConfig, calibrate, train_energies, validation_rows

__all__ = ["ProbeReport", "TrainedProbes", "train_conditional", "train_probes"]


@dataclass(frozen=True)
class ProbeReport:
    """Validation figures of one layer's harmfulness probe (validation rows are never trained on)."""

    layer: int
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
    is_val = validation_rows(activations.ids, config)
    probes, reports = {}, {}
    for layer in tqdm(
        list(activations.layers if layers is None else layers), desc="train probes", unit="layer", disable=not progress
    ):
        x = activations.layer(layer).float()[:, None]
        probe = _fit(LinearProbe(layer, x.shape[-1]), x[~is_val], harmful[~is_val], l2)
        with torch.no_grad():
            scores = probe(x[is_val])
        _, _, auc = calibrate(scores[~harmful[is_val]], scores[harmful[is_val]])
        accuracy = float(((scores >= 0) == harmful[is_val]).float().mean())
        probes[layer], reports[layer] = probe.eval(), ProbeReport(layer, accuracy, auc)
    return TrainedProbes(probes, reports)


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


def train_conditional(
    activations: ActivationSet,
    *,
    k: int = 3,
    config: TrainConfig = TrainConfig(),
    benign_schedule: StepSchedule = StepSchedule(steps=5, step_size=2.0),
    harmful_schedule: StepSchedule = StepSchedule(steps=5, step_size=2.0),
    probe_threshold: float = 0.5,
    constraint: NormConstraint = NormConstraint(),
    positions: PositionSelector = PositionSelector(),
    probe_layer: int | None = None,
    progress: bool = True,
) -> ConditionalSteering:
    """A :class:`ConditionalSteering` policy from one activation cache.

    - The probe learns harmful vs benign prompts; unless ``probe_layer`` is given, the layer with
      the best validation accuracy in the first two thirds of the model.
    - The benign energy learns false refusal (high) vs helpful answer (low) on benign prompts; the
      harmful energy learns jailbreak (high) vs safe refusal (low) on harmful prompts. Each keeps
      its top ``k`` layers at or after the probe's layer.
    - Without both answers among the harmful prompts (e.g. the model refused all of them) there is
      no harmful energy: a warning says so and harmful prompts are left unsteered.
    """
    n_layers = activations.model.n_layers
    if probe_layer is None:
        candidates = [layer for layer in activations.layers if layer < 2 * n_layers // 3]
        probes = train_probes(activations, candidates or None, config, progress=progress)
        probe = probes.best()
    else:
        probes = train_probes(activations, [probe_layer], config, progress=progress)
        probe = probes.probes[probe_layer]
    later = [layer for layer in activations.layers if layer >= probe.layer]
    harmful = activations.harmful
    parts: dict[str, EnergySteering | None] = {}
    for name, rows, schedule in (("benign", ~harmful, benign_schedule), ("harmful", harmful, harmful_schedule)):
        try:
            trained = train_energies(activations.subset(rows), later, config, progress=progress)
        except TrainingError as err:
            if name == "benign":
                raise
            warnings.warn(
                f"No harmful energy ({err}); harmful prompts will be left unsteered.", RuntimeWarning, stacklevel=2
            )
            parts[name] = None
            continue
        parts[name] = trained.policy(
            k, schedule=schedule, constraint=constraint, positions=positions, activations=activations
        )
    benign = parts["benign"]
    assert benign is not None, "a benign energy always trains or raises"
    report = probes.reports[probe.layer]
    metadata = {"probe": {"layer": report.layer, "val_accuracy": report.val_accuracy, "val_auc": report.val_auc}}
    return ConditionalSteering(
        probe,
        benign,
        parts["harmful"],
        benign_below=probe_threshold,
        harmful_above=probe_threshold,
        metadata=metadata,
    )
