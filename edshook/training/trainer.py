"""Per-layer EBM training, threshold calibration and layer ranking."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from jaxtyping import Bool, Float
from torch import Tensor
from tqdm.auto import tqdm

from edshook.data.prompts import id_hash
from edshook.errors import TrainingError
from edshook.interventions import (
    EnergyModel,
    EnergySteering,
    LayerSelector,
    NormConstraint,
    PositionSelector,
    StepSchedule,
)
from edshook.judges import label_counts
from edshook.training.activations import ActivationSet
from edshook.training.losses import LossName, contrastive_loss

__all__ = [
    "TRAINED_POSITIONS",
    "TRAINED_SCHEDULE",
    "LayerReport",
    "TrainConfig",
    "TrainedEnergies",
    "calibrate",
    "train_energies",
    "validation_rows",
]

TRAINED_SCHEDULE = StepSchedule(gated=True)
"""How trained policies step by default: 5 steps of 2.0, and only states above their layer's gate move."""

TRAINED_POSITIONS = PositionSelector(max_generated=16)
"""Where trained policies steer by default: the last prompt token and the first 16 generated tokens."""


@dataclass(frozen=True)
class TrainConfig:
    """How each layer's EBM is trained.

    The defaults follow the published recipe (InfoNCE, T = 0.1, batch 64, balanced classes,
    80/20 split, dropout 0.15) with a smaller MLP and a larger learning rate, which train in
    seconds per layer on a CPU; ``hidden=REFERENCE_HIDDEN, lr=5e-5`` is the published setting.
    """

    hidden: tuple[int, ...] = (512, 256)
    dropout: float = 0.15
    loss: LossName = "infonce"
    temperature: float = 0.1
    lr: float = 5e-4
    batch_size: int = 64
    max_epochs: int = 40
    patience: int = 5
    val_fraction: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class LayerReport:
    """Validation figures of one layer's EBM (validation rows are never trained on)."""

    layer: int
    val_accuracy: float
    val_auc: float
    energy_threshold: float
    val_loss: float
    epochs: int


@dataclass(frozen=True)
class TrainedEnergies:
    """One trained EBM per layer, their reports (with each layer's calibrated energy gate), and the data they saw."""

    energies: dict[int, EnergyModel]
    reports: dict[int, LayerReport]
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]
    label_counts: dict[str, int]
    config: TrainConfig

    def ranked(self) -> list[int]:
        """Layers from best to worst validation accuracy (ties: higher AUC, then earlier layer)."""
        reports = self.reports
        return sorted(reports, key=lambda layer: (-reports[layer].val_accuracy, -reports[layer].val_auc, layer))

    def policy(
        self,
        k: int = 3,
        *,
        schedule: StepSchedule = TRAINED_SCHEDULE,
        constraint: NormConstraint = NormConstraint(),
        positions: PositionSelector = TRAINED_POSITIONS,
        activations: ActivationSet,
    ) -> EnergySteering:
        """An EnergySteering policy over the top ``k`` layers by validation accuracy."""
        scores = {layer: report.val_accuracy for layer, report in self.reports.items()}
        layers = LayerSelector.top_k(scores, k).resolve(activations.model.n_layers)
        metadata = {
            "train_ids": list(self.train_ids),
            "val_ids": list(self.val_ids),
            "label_counts": self.label_counts,
            "training": asdict(self.config),
            "layers": {str(layer): asdict(r) for layer, r in sorted(self.reports.items())},
        }
        return EnergySteering(
            {layer: self.energies[layer] for layer in layers},
            gates={layer: self.reports[layer].energy_threshold for layer in layers},
            schedule=schedule,
            constraint=constraint,
            positions=positions,
            model=activations.model,
            metadata=metadata,
        )


def validation_rows(ids: Sequence[str], config: TrainConfig) -> Bool[Tensor, " prompt"]:
    """True for the prompts held out for validation: a salted hash of the id, the same for every layer and rerun.

    The salt makes this draw independent of the data splits, which hash the same ids.
    """
    return torch.tensor(
        [id_hash(config.seed, f"ebm-validation:{i}") < config.val_fraction for i in ids], dtype=torch.bool
    )


TIE_TOLERANCE = 1e-6


def calibrate(good: Float[Tensor, " g"], bad: Float[Tensor, " b"]) -> tuple[float, float, float]:
    """The threshold with the best balanced accuracy, that accuracy, and the AUC.

    A state is called undesirable when its energy is above the threshold. Energies within
    ``TIE_TOLERANCE`` of their scale count as equal: float32 rounding varies with batch size and
    row position, so the same state can score a few ulps apart, and a threshold there would
    separate the rows by where they sat, not by what they are.
    """
    raw = torch.cat([good, bad]).double()
    is_bad = torch.cat([torch.zeros(len(good)), torch.ones(len(bad))]).bool()
    order = torch.argsort(raw)
    sorted_raw, sorted_bad = raw[order], is_bad[order]
    scale = max(1.0, float(raw.abs().max()))
    new_value = torch.ones_like(sorted_raw, dtype=torch.bool)
    new_value[1:] = sorted_raw[1:] - sorted_raw[:-1] > TIE_TOLERANCE * scale
    sorted_e = sorted_raw[new_value][new_value.long().cumsum(0) - 1]  # each run of near-equal energies at its first
    energies = torch.empty_like(raw).index_copy_(0, order, sorted_e)
    # Threshold between sorted positions i-1 and i: rows below i are called good.
    good_below = torch.cat([torch.zeros(1), (~sorted_bad).double().cumsum(0)])
    bad_below = torch.cat([torch.zeros(1), sorted_bad.double().cumsum(0)])
    balanced = 0.5 * (good_below / len(good) + (len(bad) - bad_below) / len(bad))
    between_distinct = torch.ones_like(balanced, dtype=torch.bool)
    between_distinct[1:-1] = sorted_e[1:] > sorted_e[:-1]  # a threshold cannot split equal energies
    best = int(torch.argmax(torch.where(between_distinct, balanced, torch.full_like(balanced, -1.0))))
    if best == 0:
        threshold = float(sorted_raw[0]) - 1.0
    elif best == len(sorted_raw):
        threshold = float(sorted_raw[-1]) + 1.0
    else:
        threshold = float(0.5 * (sorted_raw[best - 1] + sorted_raw[best]))
    _, inverse, counts = torch.unique(energies, return_inverse=True, return_counts=True)
    last_rank = counts.cumsum(0).double()
    ranks = (last_rank - (counts.double() - 1) / 2)[inverse]  # tied energies share their mean rank
    auc = (ranks[is_bad].sum() - len(bad) * (len(bad) + 1) / 2) / (len(good) * len(bad))
    return threshold, float(balanced[best]), float(auc)


def train_energies(
    activations: ActivationSet,
    layers: Sequence[int] | None = None,
    config: TrainConfig = TrainConfig(),
    *,
    progress: bool = True,
) -> TrainedEnergies:
    """Train one EBM per layer on desirable (low energy) vs undesirable (high energy) states.

    Rows are split into train and validation by a hash of their prompt id, so the split is the
    same for every layer and every rerun. Each EBM keeps the weights of its best validation epoch
    and a threshold calibrated on validation energies.
    """
    chosen = list(activations.layers if layers is None else layers)
    desirable = activations.desirable
    counts = label_counts(activations.labels)
    if bool(desirable.all()) or not bool(desirable.any()):
        kind = "desirable" if bool(desirable.all()) else "undesirable"
        raise TrainingError(
            f"All {len(activations)} states are {kind} ({counts}); an energy needs both classes. "
            "Fix: add prompts the model refuses wrongly (e.g. OR-Bench-Hard) and harmful prompts."
        )
    is_val = validation_rows(activations.ids, config)
    for part, mask in (("training", ~is_val), ("validation", is_val)):
        if not bool((desirable & mask).any()) or not bool((~desirable & mask).any()):
            raise TrainingError(
                f"The {part} split has only one class ({int((desirable & mask).sum())} desirable, "
                f"{int((~desirable & mask).sum())} undesirable). Fix: collect more prompts."
            )
    energies, reports = {}, {}
    for layer in tqdm(chosen, desc="train EBMs", unit="layer", disable=not progress):
        x = activations.layer(layer).float()
        energies[layer], reports[layer] = _train_layer(
            layer,
            (x[~is_val & desirable], x[~is_val & ~desirable]),
            (x[is_val & desirable], x[is_val & ~desirable]),
            config,
        )
    ids = activations.ids
    return TrainedEnergies(
        energies=energies,
        reports=reports,
        train_ids=tuple(i for i, v in zip(ids, is_val.tolist(), strict=True) if not v),
        val_ids=tuple(i for i, v in zip(ids, is_val.tolist(), strict=True) if v),
        label_counts=counts,
        config=config,
    )


def _train_layer(
    layer: int, train: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor], config: TrainConfig
) -> tuple[EnergyModel, LayerReport]:
    torch.manual_seed(config.seed * 1000 + layer)
    generator = torch.Generator().manual_seed(config.seed * 1000 + layer)
    good, bad = train
    model = EnergyModel(good.shape[-1], hidden=config.hidden, dropout=config.dropout)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    half = max(1, config.batch_size // 2)
    steps = math.ceil(2 * max(len(good), len(bad)) / config.batch_size)
    best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        for _ in range(steps):
            g = good[torch.randint(len(good), (half,), generator=generator)]
            b = bad[torch.randint(len(bad), (half,), generator=generator)]
            loss = contrastive_loss(config.loss, model(g), model(b), config.temperature)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        val_loss = _val_loss(model, val, config)
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, stale = val_loss, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        threshold, accuracy, auc = calibrate(model(val[0]), model(val[1]))
    return model, LayerReport(layer, accuracy, auc, threshold, best_loss, best_epoch)


@torch.no_grad()
def _val_loss(model: EnergyModel, val: tuple[Tensor, Tensor], config: TrainConfig) -> float:
    model.eval()
    good, bad = model(val[0]), model(val[1])
    return float(contrastive_loss(config.loss, good, bad, config.temperature))
