"""Intervention objects: where to steer, the energy, how to step, and their composition."""

from edshook.interventions.conditional import ConditionalSteering, Routes, load_policy
from edshook.interventions.constraints import NormConstraint
from edshook.interventions.descent import Descent, descend
from edshook.interventions.energy import REFERENCE_HIDDEN, EnergyModel, energy_and_grad
from edshook.interventions.files import read_policy_file
from edshook.interventions.probe import LinearProbe
from edshook.interventions.protocol import (
    EnergyRecord,
    EnergyTrace,
    Intervention,
    ModelSpec,
    RouteRecord,
    Site,
    SiteCall,
)
from edshook.interventions.schedule import StepSchedule
from edshook.interventions.selectors import LayerSelector, PositionSelector, check_layers
from edshook.interventions.steering import EnergySteering

__all__ = [
    "REFERENCE_HIDDEN",
    "ConditionalSteering",
    "Descent",
    "EnergyModel",
    "EnergyRecord",
    "EnergySteering",
    "EnergyTrace",
    "Intervention",
    "LayerSelector",
    "LinearProbe",
    "ModelSpec",
    "NormConstraint",
    "PositionSelector",
    "RouteRecord",
    "Routes",
    "Site",
    "SiteCall",
    "StepSchedule",
    "check_layers",
    "descend",
    "energy_and_grad",
    "load_policy",
    "read_policy_file",
]
