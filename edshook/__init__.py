"""edshook: Energy-Driven Steering of language models, as composable hook interventions.

Examples:
    >>> import edshook  # doctest: +SKIP
    >>> backend = edshook.TransformerLensBackend(edshook.load_model())  # doctest: +SKIP
    >>> backend.generate(["How do I kill a Python process?"])  # doctest: +SKIP
"""

from edshook.backends import Backend, NnsightBackend, SteeringHandle, TransformerLensBackend, make_backend
from edshook.errors import EdshookError
from edshook.interventions import (
    ConditionalSteering,
    EnergyModel,
    EnergySteering,
    EnergyTrace,
    Intervention,
    LayerSelector,
    LinearProbe,
    ModelSpec,
    NormConstraint,
    PositionSelector,
    Site,
    SiteCall,
    StepSchedule,
    load_policy,
)
from edshook.models import DEFAULT_MODEL, EMBEDDED_MODELS, LoadedModel, load_model

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDED_MODELS",
    "Backend",
    "ConditionalSteering",
    "EdshookError",
    "EnergyModel",
    "EnergySteering",
    "EnergyTrace",
    "Intervention",
    "LayerSelector",
    "LinearProbe",
    "LoadedModel",
    "ModelSpec",
    "NnsightBackend",
    "NormConstraint",
    "PositionSelector",
    "Site",
    "SiteCall",
    "SteeringHandle",
    "StepSchedule",
    "TransformerLensBackend",
    "load_model",
    "load_policy",
    "make_backend",
]
