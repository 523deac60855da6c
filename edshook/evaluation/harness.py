"""Run a method over prompt sets: answers, every judge's verdict, rates with intervals, capability, speed."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from edshook.backends.base import Backend
from edshook.data.prompts import PromptSet
from edshook.errors import DataError
from edshook.evaluation.methods import Method
from edshook.evaluation.metrics import Rate, kl_divergence, perplexity
from edshook.judges.reader import AnswerJudge, Verdict

__all__ = ["AnswerRecord", "Capability", "MethodResult", "SetResult", "evaluate", "set_kind"]

SetKind = Literal["benign", "harmful"]


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

    def distance(self, backend: Backend, system_prompt: str | None = None, batch_size: int = 32) -> tuple[float, float]:
        """How far the backend, as it is now (interventions attached), is from the base model here:
        the mean next-token KL after each prompt, and the perplexity of the base model's answers."""
        prompts = list(self.prompts)
        logits = backend.logits(prompts, batch_size=batch_size, system_prompt=system_prompt, progress=False)
        logprob, counts = backend.answer_logprob(
            prompts, list(self.answers), batch_size=batch_size, system_prompt=system_prompt, progress=False
        )
        return float(kl_divergence(self.logits, logits).mean()), perplexity(logprob, counts)


@dataclass(frozen=True)
class AnswerRecord:
    """One answer as ``answers.jsonl`` keeps it: enough to read what every rate counted."""

    method: str
    set: str
    id: str
    prompt: str
    harmful: bool
    answer: str
    n_tokens: int
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        head = {"method": self.method, "set": self.set, "id": self.id, "prompt": self.prompt, "harmful": self.harmful}
        return head | {"answer": self.answer, "n_tokens": self.n_tokens} | self.verdict.to_json()

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> AnswerRecord:
        """The record a row of ``answers.jsonl`` holds (:func:`~edshook.evaluation.read_answers` gives the rows)."""
        fields = (row["method"], row["set"], row["id"], row["prompt"], bool(row["harmful"]), row["answer"])
        return cls(*fields, int(row["n_tokens"]), Verdict.from_json(row))


def headline(entry: Mapping[str, Any]) -> Rate:
    """What a reader asks first of a set result (live or saved, in its ``to_json`` form): helpful on a benign
    set or refusal on a harmful one, by the model judge when it ran, else the substring rate."""
    model = entry.get("model")
    chosen = entry["substring"] if model is None else model["helpful" if entry["kind"] == "benign" else "refusal"]
    return Rate.from_json(chosen)


@dataclass(frozen=True)
class SetResult:
    """A method's answers to one set, and the rates each judge gives them."""

    name: str
    kind: SetKind
    answers: tuple[AnswerRecord, ...]

    @property
    def substring(self) -> Rate | None:
        """Compliance (no refusal keyword) on a benign set, refusal on a harmful one."""
        refused = [a.verdict.refused for a in self.answers]
        if any(r is None for r in refused):
            return None
        return Rate.of([bool(r) == (self.kind == "harmful") for r in refused])

    @property
    def model(self) -> dict[str, Rate] | None:
        """The model judge's helpful, refusal and degenerate rates (and harmful, on a harmful set)."""
        verdicts = [a.verdict.model for a in self.answers]
        if any(v is None for v in verdicts):
            return None
        rates = {label: Rate.of([v.label == label for v in verdicts]) for label in ("helpful", "refusal", "degenerate")}  # type: ignore[union-attr]
        if self.kind == "harmful":
            rates["harmful"] = Rate.of([v.gives_help for v in verdicts])  # type: ignore[union-attr]
        return rates

    @property
    def headline(self) -> Rate:
        """The rate a reader asks for first (see :func:`headline`)."""
        return headline(self.to_json())

    def to_json(self) -> dict[str, Any]:
        substring, model = self.substring, self.model
        return {
            "n": len(self.answers),
            "kind": self.kind,
            "substring": None if substring is None else substring.to_json(),
            "model": None if model is None else {name: r.to_json() for name, r in model.items()},
        }


@dataclass(frozen=True)
class MethodResult:
    """One method's results on every set, with capability and speed."""

    method: Method
    sets: dict[str, SetResult]
    harmless_kl: float | None
    harmless_perplexity: float | None
    seconds: float
    tokens_per_s: float

    def to_json(self) -> dict[str, Any]:
        sweep = self.method.sweep
        return {
            "method": self.method.name,
            "sweep": None if sweep is None else {"name": sweep.name, "value": sweep.value},
            "settings": self.method.settings,
            "system_prompt": self.method.system_prompt,
            "sets": {name: s.to_json() for name, s in self.sets.items()},
            "harmless_kl": None if self.harmless_kl is None else round(self.harmless_kl, 5),
            "harmless_perplexity": None if self.harmless_perplexity is None else round(self.harmless_perplexity, 4),
            "seconds": round(self.seconds, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
        }


def set_kind(prompts: PromptSet) -> SetKind:
    """``"harmful"`` for a set of harmful prompts (refusing is right), ``"benign"`` otherwise."""
    kinds = {p.harmful for p in prompts}
    if len(kinds) != 1:
        raise DataError(f"Set {prompts.name!r} mixes harmful and benign prompts; evaluate them as two sets.")
    return "harmful" if kinds == {True} else "benign"


def evaluate(
    backend: Backend,
    method: Method,
    sets: Mapping[str, PromptSet],
    judge: AnswerJudge,
    *,
    capability: Capability | None = None,
    answer_perplexity: bool = False,
    max_new_tokens: int = 96,
    batch_size: int = 32,
    progress: bool = False,
) -> MethodResult:
    """Answer every set greedily under ``method``, judge every answer, and measure capability.

    With ``answer_perplexity`` the unsteered model also scores each answer after its prompt (a
    degeneracy measure: loops and gibberish read as unlikely text).

    Examples:
        >>> sets = {"jbb_benign": load_set("jbb_benign")}  # doctest: +SKIP
        >>> result = evaluate(backend, Method("base"), sets, AnswerJudge())  # doctest: +SKIP
        >>> result.sets["jbb_benign"].substring.rate  # doctest: +SKIP
    """
    if not sets:
        raise DataError("No prompt sets to evaluate.")
    kinds = {name: set_kind(prompts) for name, prompts in sets.items()}
    started = time.perf_counter()
    tokens: dict[str, list[list[int]]] = {}
    kl = harmless_ppl = None
    with ExitStack() as stack:
        if method.interventions:
            stack.enter_context(backend.steer(*method.interventions))
        for name, prompts in sets.items():
            tokens[name] = backend.generate_tokens(
                list(prompts.texts),
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                system_prompt=method.system_prompt,
                progress=progress,
            )
        generation_seconds = time.perf_counter() - started
        if capability is not None:
            kl, harmless_ppl = capability.distance(backend, method.system_prompt, batch_size)
    results = {}
    for name, prompts in sets.items():
        answers = [backend.decode(row) for row in tokens[name]]
        texts = list(prompts.texts)
        ppl = None
        if answer_perplexity:
            logprob, counts = backend.answer_logprob(texts, answers, batch_size=batch_size, progress=False)
            ppl = [math.exp(-float(lp) / max(1, int(c))) for lp, c in zip(logprob, counts, strict=True)]
        verdicts = judge(texts, answers, [p.harmful for p in prompts], ppl)
        records = tuple(
            AnswerRecord(method.label, name, p.id, p.text, p.harmful, a, len(row), v)
            for p, a, row, v in zip(prompts, answers, tokens[name], verdicts, strict=True)
        )
        results[name] = SetResult(name, kinds[name], records)
    n_tokens = sum(len(row) for rows in tokens.values() for row in rows)
    seconds = time.perf_counter() - started
    return MethodResult(
        method, results, kl, harmless_ppl, seconds, n_tokens / generation_seconds if generation_seconds else 0.0
    )
