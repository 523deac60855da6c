"""EBM training: labelled activations, losses, per-layer training and layer ranking."""

from edshook.training.activations import ActivationSet
from edshook.training.collect import Answer, answer_prompts, collect_labelled, refused
from edshook.training.conditional import ProbeReport, TrainedProbes, train_conditional, train_probes
from edshook.training.losses import info_nce, logistic
from edshook.training.trainer import (
    LayerReport,
    TrainConfig,
    TrainedEnergies,
    calibrate,
    train_energies,
    validation_rows,
)

__all__ = [
    "ActivationSet",
    "Answer",
    "LayerReport",
    "ProbeReport",
    "TrainConfig",
    "TrainedEnergies",
    "TrainedProbes",
    "answer_prompts",
    "calibrate",
    "collect_labelled",
    "info_nce",
    "logistic",
    "refused",
    "train_conditional",
    "train_energies",
    "train_probes",
    "validation_rows",
]
