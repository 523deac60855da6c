"""EBM training: labelled activations, losses, per-layer training and layer ranking."""

from edshook.training.activations import ActivationSet
from edshook.training.collect import Answer, answer_prompts, collect_labelled, refused
from edshook.training.conditional import (
    ConditionalParts,
    ProbeReport,
    SourceTransfer,
    TrainedProbes,
    fit_probe,
    source_transfer,
    train_conditional,
    train_conditional_parts,
    train_probes,
)
from edshook.training.losses import info_nce, logistic
from edshook.training.trainer import (
    TRAINED_POSITIONS,
    TRAINED_SCHEDULE,
    LayerReport,
    TrainConfig,
    TrainedEnergies,
    calibrate,
    train_energies,
    validation_rows,
)

__all__ = [
    "TRAINED_POSITIONS",
    "TRAINED_SCHEDULE",
    "ActivationSet",
    "Answer",
    "ConditionalParts",
    "LayerReport",
    "ProbeReport",
    "SourceTransfer",
    "TrainConfig",
    "TrainedEnergies",
    "TrainedProbes",
    "answer_prompts",
    "calibrate",
    "collect_labelled",
    "fit_probe",
    "info_nce",
    "logistic",
    "refused",
    "source_transfer",
    "train_conditional",
    "train_conditional_parts",
    "train_energies",
    "train_probes",
    "validation_rows",
]
