"""How far and how long to descend the energy."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["StepSchedule"]


@dataclass(frozen=True)
class StepSchedule:
    """K descent steps of size ``step_size * decay**k``, optionally gated by energy.

    Args:
        steps: Number of steps K per steered state.
        step_size: Size of the first step (eta); with normalised gradients it is a distance in
            the residual stream.
        decay: Factor applied to the step size after each step.
        gated: Stop a state's descent once its energy is below its layer's calibrated threshold,
            and never move a state that starts below it (energy-gated steering).

    Examples:
        >>> StepSchedule(steps=3, step_size=1.0, decay=0.5).sizes()
        (1.0, 0.5, 0.25)
    """

    steps: int = 5
    step_size: float = 2.0
    decay: float = 1.0
    gated: bool = False

    def __post_init__(self) -> None:
        def finite_number(x: object) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

        valid = (
            isinstance(self.steps, int)
            and not isinstance(self.steps, bool)
            and finite_number(self.step_size)
            and finite_number(self.decay)
            and isinstance(self.gated, bool)
        )
        if not valid or self.steps < 0 or self.step_size < 0 or self.decay <= 0:
            raise ValueError(
                "StepSchedule needs an integer steps >= 0, a finite step_size >= 0, a finite decay > 0 and a bool "
                f"gate, got {self}."
            )

    def sizes(self) -> tuple[float, ...]:
        return tuple(self.step_size * self.decay**k for k in range(self.steps))
