"""Rates with confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Rate", "wilson_interval", "rate"]


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default).

    Examples:
        >>> tuple(round(x, 3) for x in wilson_interval(8, 10))
        (0.49, 0.943)
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n and n > 0, got {successes}/{n}.")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """A rate over n prompts with its 95% interval; ``kind`` says what is counted."""

    n: int
    rate: float
    ci95: tuple[float, float]
    kind: Literal["compliance", "refusal"]

    def to_json(self) -> dict:
        return {"n": self.n, "rate": round(self.rate, 4), "ci95": [round(x, 4) for x in self.ci95], "kind": self.kind}


def rate(refused: Sequence[bool], kind: Literal["compliance", "refusal"]) -> Rate:
    """Compliance (share not refused) or refusal (share refused) of a list of verdicts."""
    n = len(refused)
    count = sum(map(bool, refused)) if kind == "refusal" else n - sum(map(bool, refused))
    return Rate(n, count / n, wilson_interval(count, n), kind)
