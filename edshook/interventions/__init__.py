"""Intervention objects: where to steer, the energy, how to step, and their composition."""

from edshook.interventions.conditional import ConditionalSteering, load_policy
from edshook.interventions.constraints import NormConstraint
from edshook.interventions.energy import REFERENCE_HIDDEN, EnergyModel, energy_and_grad
from edshook.interventions.probe import LinearProbe
from edshook.interventions.protocol import EnergyRecord, EnergyTrace, Intervention, ModelSpec, Site, SiteCall
from edshook.interventions.schedule import StepSchedule
from edshook.interventions.selectors import LayerSelector, PositionSelector
from edshook.interventions.steering import EnergySteering

__all__ = [
    "ConditionalSteering",
    "LinearProbe",
    "load_policy",
    "REFERENCE_HIDDEN",
    "EnergyModel",
    "EnergyRecord",
    "EnergySteering",
    "EnergyTrace",
    "Intervention",
    "LayerSelector",
    "ModelSpec",
    "NormConstraint",
    "PositionSelector",
    "Site",
    "SiteCall",
    "StepSchedule",
    "energy_and_grad",
]
