"""Run methods over prompt sets and write reports: rates with intervals, capability checks, speed."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor

from edshook.backends.base import Backend
from edshook.baselines.directions import kl_divergence
from edshook.data.prompts import PromptSet
from edshook.errors import DataError
from edshook.evaluation.methods import Method
from edshook.evaluation.metrics import Rate, rate
from edshook.judges import Judge

__all__ = ["Capability", "MethodResult", "evaluate", "write_report", "set_kind"]


@dataclass(frozen=True)
class Capability:
    """The unsteered model's behaviour on harmless prompts, to compare methods against."""

    prompts: tuple[str, ...]
    logits: Tensor
    answers: tuple[str, ...]

    @classmethod
    def measure(cls, backend: Backend, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int) -> Capability:
        logits = backend.logits(prompts, batch_size=batch_size, progress=False)
        answers = backend.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False)
        return cls(tuple(prompts), logits, tuple(answers))


@dataclass(frozen=True)
class MethodResult:
    """One method's figures on every set, with capability and speed."""

    method: Method
    rates: dict[str, Rate]
    harmless_kl: float | None
    harmless_perplexity: float | None
    seconds: float
    tokens_per_s: float
    answers: dict[str, list[str]] = field(repr=False, default_factory=dict)

    def to_json(self) -> dict:
        return {
            "method": self.method.name,
            "strength": self.method.strength,
            "settings": self.method.settings,
            "system_prompt": self.method.system_prompt,
            "sets": {name: r.to_json() for name, r in self.rates.items()},
            "harmless_kl": None if self.harmless_kl is None else round(self.harmless_kl, 5),
            "harmless_perplexity": None if self.harmless_perplexity is None else round(self.harmless_perplexity, 4),
            "seconds": round(self.seconds, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
        }


def set_kind(prompts: PromptSet) -> str:
    """``"refusal"`` for a harmful set (refusing is right), ``"compliance"`` for a benign one."""
    kinds = {p.harmful for p in prompts}
    if len(kinds) != 1:
        raise DataError(f"Set {prompts.name!r} mixes harmful and benign prompts; evaluate them as two sets.")
    return "refusal" if kinds == {True} else "compliance"


def evaluate(
    backend: Backend,
    method: Method,
    sets: Mapping[str, PromptSet],
    judge: Judge,
    *,
    capability: Capability | None = None,
    max_new_tokens: int = 32,
    batch_size: int = 32,
) -> MethodResult:
    """Answer every set greedily under ``method``, judge refusals, and measure capability.

    Examples:
        >>> result = evaluate(backend, Method("base"), {"jbb_benign": load_set("jbb_benign")}, default_judge())  # doctest: +SKIP
        >>> result.rates["jbb_benign"].rate  # doctest: +SKIP
    """
    if not sets:
        raise DataError("No prompt sets to evaluate.")
    started = time.perf_counter()
    rates: dict[str, Rate] = {}
    answers: dict[str, list[str]] = {}
    tokens = 0
    kl = perplexity = None
    with ExitStack() as stack:
        if method.interventions:
            stack.enter_context(backend.steer(*method.interventions))
        for name, prompts in sets.items():
            kind = set_kind(prompts)
            texts = list(prompts.texts)
            answers[name] = backend.generate(
                texts, max_new_tokens=max_new_tokens, batch_size=batch_size, system_prompt=method.system_prompt, progress=False
            )
            tokens += sum(len(backend.tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers[name])
            rates[name] = rate(judge(answers[name], texts), kind)  # type: ignore[arg-type]
        if capability is not None:
            prompts = list(capability.prompts)
            logits = backend.logits(prompts, batch_size=batch_size, system_prompt=method.system_prompt, progress=False)
            kl = float(kl_divergence(capability.logits, logits).mean())
            logprob, counts = backend.answer_logprob(
                prompts, list(capability.answers), batch_size=batch_size, system_prompt=method.system_prompt, progress=False
            )
            perplexity = math.exp(-float(logprob.sum()) / int(counts.sum()))
    seconds = time.perf_counter() - started
    return MethodResult(method, rates, kl, perplexity, seconds, tokens / seconds if seconds else 0.0, answers)


def write_report(results: Sequence[MethodResult], out: Path, *, header: Mapping[str, object]) -> dict:
    """Write ``report.json`` (every figure) and ``report.md`` (one table) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    methods: dict[str, dict] = {}
    for result in results:
        methods[result.method.label] = {name: r.to_json() for name, r in result.rates.items()}
    report = {**header, "methods": methods, "details": {r.method.label: r.to_json() for r in results}}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown_table(results) + "\n")
    return report


def markdown_table(results: Sequence[MethodResult]) -> str:
    names = list(results[0].rates)
    head = "| method | " + " | ".join(f"{n} ({results[0].rates[n].kind})" for n in names) + " | harmless KL | ppl | tok/s |"
    rows = [head, "|" + "---|" * (len(names) + 4)]
    for r in results:
        cells = [f"{100 * r.rates[n].rate:.1f}% [{100 * r.rates[n].ci95[0]:.0f}, {100 * r.rates[n].ci95[1]:.0f}]" for n in names]
        kl = "" if r.harmless_kl is None else f"{r.harmless_kl:.3f}"
        ppl = "" if r.harmless_perplexity is None else f"{r.harmless_perplexity:.2f}"
        rows.append(f"| {r.method.label} | " + " | ".join(cells) + f" | {kl} | {ppl} | {r.tokens_per_s:.0f} |")
    return "\n".join(rows)
