"""Rates with confidence intervals, and the distances used to check that steering leaves the model intact."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jaxtyping import Float
from torch import Tensor

__all__ = ["Rate", "kl_divergence", "perplexity", "wilson_interval"]


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
    """How many of ``n`` answers have a property, with the 95% Wilson interval of the share.

    Examples:
        >>> Rate.of([True, True, False, True]).rate
        0.75
    """

    n: int
    count: int

    @classmethod
    def of(cls, flags: Sequence[bool]) -> Rate:
        if not flags:
            raise ValueError("A rate needs at least one answer.")
        return cls(len(flags), sum(map(bool, flags)))

    @property
    def rate(self) -> float:
        return self.count / self.n

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.n)

    @classmethod
    def from_json(cls, figure: Mapping[str, Any]) -> Rate:
        """The rate a ``to_json`` figure holds (its ``n`` and ``count``; the rest is derived)."""
        return cls(int(figure["n"]), int(figure["count"]))

    def to_json(self) -> dict[str, object]:
        return {"n": self.n, "count": self.count, "rate": round(self.rate, 4), "ci95": [round(x, 4) for x in self.ci95]}

    def percent(self) -> str:
        """``"66.0% [56, 75]"``: the rate and its interval, in percent."""
        low, high = self.ci95
        return f"{100 * self.rate:.1f}% [{100 * low:.0f}, {100 * high:.0f}]"


def kl_divergence(base: Float[Tensor, "n vocab"], other: Float[Tensor, "n vocab"]) -> Float[Tensor, " n"]:
    """KL(base || other) of next-token distributions given as logits."""
    log_p, log_q = base.float().log_softmax(-1), other.float().log_softmax(-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def perplexity(logprob: Float[Tensor, " n"], tokens: Tensor) -> float:
    """``exp(-sum log p / sum tokens)`` over answers whose summed log-probabilities and lengths are given."""
    return math.exp(-float(logprob.sum()) / max(1, int(tokens.sum())))
