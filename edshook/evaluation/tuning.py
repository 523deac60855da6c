"""Choosing a conditional policy's probe thresholds on validation prompts, from one set of generations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from tqdm.auto import tqdm

from edshook.backends.base import Backend
from edshook.data.prompts import Prompt, PromptSet
from edshook.errors import DataError
from edshook.evaluation.bands import DEFAULT_BANDS, ROUTES, Outcomes, ThresholdTuning, band_stability, choose_thresholds
from edshook.evaluation.harness import AnswerRecord, evaluate, set_kind
from edshook.evaluation.methods import Method
from edshook.interventions import ConditionalSteering, EnergySteering
from edshook.judges.reader import AnswerJudge

__all__ = ["route_outcomes", "routes_of", "tune_thresholds"]


def tune_thresholds(
    backend: Backend,
    policy: ConditionalSteering,
    sets: Mapping[str, PromptSet],
    judge: AnswerJudge,
    *,
    candidates: Sequence[tuple[float, float]] | None = None,
    margin: float = 0.0,
    earlier: Sequence[AnswerRecord] = (),
    max_new_tokens: int = 96,
    batch_size: int = 32,
    resamples: int = 200,
    progress: bool = True,
) -> ThresholdTuning:
    """The probe band (``candidates``, default every band of ``DEFAULT_THRESHOLDS``) with the best mean
    helpfulness on the benign sets among those that keep every harmful set's refusal at least
    ``margin`` above base (and, with the model judge, its harmful answers no more frequent than base).
    Scores inside a band are left unsteered.

    Each prompt is answered three times (base, steered as benign, steered as harmful) and its probe
    score read once; any candidate's outcome is then a choice among those answers, so the whole
    grid costs three generations per prompt. ``earlier`` brings the answers of an earlier tuning of the
    same policy with the same judge and token budget (its ``answers.jsonl``): a prompt of a set it
    answered along a route is not answered again, so a tuning can be extended to more prompts. Use
    validation prompts, never test prompts.
    ``resamples`` bootstrap draws of those prompts say how stable the choice is (``stability``; 0 skips).
    """
    kinds = {name: set_kind(prompts) for name, prompts in sets.items()}
    if set(kinds.values()) != {"benign", "harmful"}:
        raise DataError(f"Threshold tuning needs benign and harmful sets; got only {sorted(set(kinds.values()))} sets.")
    routes: dict[str, EnergySteering | None] = {"base": None, "benign": policy.benign, "harmful": policy.harmful}
    known = {(record.set, record.id, record.method): record for record in earlier}
    answers: dict[str, dict[str, list[AnswerRecord]]] = {}
    with tqdm(total=len(sets) * len(routes), desc="tune thresholds", unit="run", disable=not progress) as bar:
        for name, prompts in sets.items():
            answers[name] = {}
            for route, steering in routes.items():
                if route == "harmful" and steering is None:
                    answers[name][route] = answers[name]["base"]  # no harmful part: those prompts stay unsteered
                    bar.update()
                    continue
                reused = {p.id: known[name, p.id, route] for p in prompts if (name, p.id, route) in known}
                for prompt in prompts:
                    if prompt.id in reused and reused[prompt.id].prompt != prompt.text:
                        raise DataError(
                            f"The earlier answer to {prompt.id} in {name!r} is to another prompt text. "
                            "Fix: pass the answers of a tuning on the same validation data."
                        )
                missing = PromptSet(name, tuple(p for p in prompts if p.id not in reused))
                fresh: dict[str, AnswerRecord] = {}
                if len(missing):
                    method = Method(route, () if steering is None else (steering,))
                    result = evaluate(
                        backend, method, {name: missing}, judge, max_new_tokens=max_new_tokens, batch_size=batch_size
                    )
                    fresh = {record.id: record for record in result.sets[name].answers}
                answers[name][route] = [reused.get(p.id) or fresh[p.id] for p in prompts]
                bar.update()
    outcomes = route_outcomes(backend, policy, sets, answers, batch_size=batch_size)
    bands = candidates or DEFAULT_BANDS
    tuning = choose_thresholds(outcomes, bands, margin=margin)
    if resamples > 0:
        shares = band_stability(outcomes, bands, margin=margin, resamples=resamples)
        stability = shares.get((tuning.benign_below, tuning.harmful_above), 0.0)
        tuning = replace(tuning, stability=stability, resamples=resamples)
    return replace(tuning, answers=answers)


def route_outcomes(
    backend: Backend,
    policy: ConditionalSteering,
    sets: Mapping[str, PromptSet],
    answers: Mapping[str, Mapping[str, Sequence[AnswerRecord]]],
    *,
    batch_size: int = 32,
) -> dict[str, Outcomes]:
    """Each set's probe scores under ``policy``'s probe and the verdicts of its answers along each route.

    ``answers[set][route]`` holds one answer per prompt of the set, in order, for every route of ``ROUTES``.
    """
    outcomes = {}
    for name, prompts in sets.items():
        states = backend.collect(list(prompts.texts), list(policy.probe.layers), batch_size=batch_size, progress=False)
        verdicts = {route: [record.verdict for record in records] for route, records in answers[name].items()}
        outcomes[name] = Outcomes.of(set_kind(prompts), policy.probe.probability(states).cpu(), verdicts)
    return outcomes


def routes_of(
    records: Sequence[AnswerRecord],
) -> tuple[dict[str, PromptSet], dict[str, dict[str, list[AnswerRecord]]]]:
    """The validation sets of a saved tuning's answers (``answers.jsonl``) and each set's answers along
    every route of :data:`ROUTES`, one per prompt in set order: what :func:`route_outcomes` reads."""
    sets, answers = {}, {}
    for name in dict.fromkeys(record.set for record in records):
        base = [r for r in records if r.set == name and r.method == "base"]
        sets[name] = PromptSet(name, tuple(Prompt(r.id, r.prompt, r.harmful, name) for r in base))
        answers[name] = {route: [r for r in records if r.set == name and r.method == route] for route in ROUTES}
        if any(tuple(r.id for r in answers[name][route]) != sets[name].ids for route in ROUTES):
            raise DataError(f"The tuning answers of {name!r} are not one per prompt along every route {ROUTES}.")
    return sets, answers
