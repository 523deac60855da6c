"""Model-free measures of degenerate text (placeholder until the judge room lands)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Degeneracy:
    repeated_4gram: float

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def measure_degeneracy(answer: str, prompt: str) -> Degeneracy:
    words = answer.split()
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return Degeneracy(1 - len(set(grams)) / len(grams) if grams else 0.0)
