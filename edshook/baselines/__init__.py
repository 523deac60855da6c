"""Baselines on the intervention protocol: refusal-direction ablation, ActAdd, surgical ablation."""

from edshook.baselines.directions import (
    RefusalDirection,
    kl_divergence,
    mean_difference,
    orthogonalise,
    refusal_score,
    select_refusal_direction,
)
from edshook.baselines.interventions import ActivationAddition, DirectionalAblation

__all__ = [
    "ActivationAddition",
    "DirectionalAblation",
    "RefusalDirection",
    "kl_divergence",
    "mean_difference",
    "orthogonalise",
    "refusal_score",
    "select_refusal_direction",
]
