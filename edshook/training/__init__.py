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
    "TrainConfig",
    "TrainedEnergies",
    "answer_prompts",
    "refused",
    "calibrate",
    "collect_labelled",
    "info_nce",
    "logistic",
    "train_energies",
    "train_conditional",
    "train_probes",
    "validation_rows",
    "ProbeReport",
    "TrainedProbes",
]
