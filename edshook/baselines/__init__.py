"""Baselines on the intervention protocol: directional ablation and activation addition, and the directions they use."""

from edshook.baselines.directions import mean_difference, orthogonalise
from edshook.baselines.interventions import ActivationAddition, DirectionalAblation

__all__ = ["ActivationAddition", "DirectionalAblation", "mean_difference", "orthogonalise"]
