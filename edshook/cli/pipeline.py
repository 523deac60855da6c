"""From a model to a policy: ``collect``, ``train``, ``tune``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from edshook.cli.options import (
    BackendOption,
    DataDirOption,
    DeviceMapOption,
    DeviceOption,
    DtypeOption,
    JudgeName,
    JudgeOption,
    Library,
    LimitOption,
    ModelOption,
    Precision,
    SetsOption,
    Split,
    open_backend,
    record,
    set_names,
)
from edshook.models import DEFAULT_MODEL
from edshook.training.trainer import TRAINED_POSITIONS, TRAINED_SCHEDULE

if TYPE_CHECKING:
    from edshook.evaluation import AnswerRecord

__all__ = ["collect", "train", "tune"]

UNSTABLE_BELOW = 0.5
"""``edshook tune`` warns when fewer bootstrap draws of the validation prompts pick the chosen band."""


class Kind(StrEnum):
    """conditional: a harmfulness probe routes each prompt to one of two energies; single: one energy."""

    conditional = "conditional"
    single = "single"


class Loss(StrEnum):
    infonce = "infonce"
    logistic = "logistic"


def collect(
    out: Annotated[Path, typer.Option(help="Run folder: answers.jsonl and activations go here.")],
    split: Annotated[
        Split | None, typer.Option(help="A part of the standard splits: train or val (never test).")
    ] = None,
    sets: SetsOption = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = Library.nnsight,
    dtype: DtypeOption = Precision.auto,
    device: DeviceOption = None,
    device_map: DeviceMapOption = None,
    judge: JudgeOption = JudgeName.substring,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer; refusals show in the first few.")] = 24,
    batch_size: int = 32,
    seed: int = 0,
) -> None:
    """Answer prompts greedily, judge and label them, and cache every layer's last-token state.

    Resumable: prompts already in OUT/answers.jsonl are not answered again.
    """
    from edshook.data import PromptSet, select_prompts
    from edshook.errors import DataError
    from edshook.judges import AnswerJudge, label_counts
    from edshook.training import collect_labelled

    if split is Split.test:
        raise typer.BadParameter("--split test: test prompts are never trained on. Use train or val.")
    try:
        chosen = select_prompts(
            split=None if split is None else split.part,
            sets=set_names(sets),
            limit=limit,
            seed=seed,
            data_dir=data_dir,
        )
    except DataError as err:
        raise typer.BadParameter(f"{err} (--split / --sets)") from err
    prompts = PromptSet.concat("collect", list(chosen.values()))
    runner = open_backend(model, backend, dtype, device, device_map)
    record(out, "collect", locals(), data_ids=prompts.ids, backend=runner)
    activations = collect_labelled(
        runner, prompts, AnswerJudge.build(judge.value), out, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    typer.echo(f"{len(activations)} prompts, labels {label_counts(activations.labels)} -> {out}")


def train(
    run: Annotated[Path, typer.Argument(help="A folder written by `edshook collect`.")],
    out: Annotated[Path, typer.Option(help="Policy folder to write.")],
    kind: Annotated[
        Kind, typer.Option(help="conditional (probe + two energies) or single (one energy).")
    ] = Kind.conditional,
    top_k: Annotated[int, typer.Option(help="Steer the k layers with the best validation accuracy (per energy).")] = 3,
    loss: Annotated[Loss, typer.Option(help="The EBM training loss.")] = Loss.infonce,
    steps: Annotated[int, typer.Option(help="Descent steps K.")] = TRAINED_SCHEDULE.steps,
    step_size: Annotated[float, typer.Option(help="Step size eta.")] = TRAINED_SCHEDULE.step_size,
    harmful_step_size: Annotated[
        float | None, typer.Option(help="Step size of a conditional policy's harmful energy (none: --step-size).")
    ] = None,
    gated: Annotated[
        bool, typer.Option(help="Move a state only while its energy is above its layer's gate.")
    ] = TRAINED_SCHEDULE.gated,
    max_generated: Annotated[
        int | None, typer.Option(help="Steer only the first N generated tokens (none: all of them).")
    ] = TRAINED_POSITIONS.max_generated,
    seed: int = 0,
) -> None:
    """Train the energies (and, for a conditional policy, the probe) on collected states; save a policy."""
    from dataclasses import asdict

    from edshook.interventions import StepSchedule
    from edshook.training import ActivationSet, TrainConfig, train_conditional, train_energies

    if kind is Kind.single and harmful_step_size is not None:
        raise typer.BadParameter(
            "a single-energy policy has no harmful energy; use --step-size, or --kind conditional.",
            param_hint="--harmful-step-size",
        )
    activations = ActivationSet.load(run)
    record(out, "train", locals(), data_ids=activations.ids)
    config = TrainConfig(loss=loss.value, seed=seed)
    schedule = StepSchedule(steps=steps, step_size=step_size, gated=gated)
    positions = replace(TRAINED_POSITIONS, max_generated=max_generated)
    harmful_schedule = schedule if harmful_step_size is None else replace(schedule, step_size=harmful_step_size)
    if kind is Kind.single:
        trained = train_energies(activations, config=config)
        policy = trained.policy(top_k, schedule=schedule, positions=positions, activations=activations)
        _print_layers({layer: asdict(report) for layer, report in trained.reports.items()})
        typer.echo(f"policy on layers {list(policy.layers)} -> {out}")
        policy.save(out)
        return
    conditional = train_conditional(
        activations,
        k=top_k,
        config=config,
        benign_schedule=schedule,
        harmful_schedule=harmful_schedule,
        positions=positions,
    )
    parts = {"benign": conditional.benign, "harmful": conditional.harmful}
    for name, part in parts.items():
        if part is not None:
            typer.echo(f"{name} energy, layer reports:")
            _print_layers(part.metadata["layers"])
    probe = conditional.metadata["probe"]
    layers = ", ".join(f"{name} energy on {list(part.layers)}" for name, part in parts.items() if part is not None)
    typer.echo(
        f"probe at layers {probe['layers']} (val accuracy {probe['val_accuracy']:.3f}); {layers} -> {out}\n"
        f"Next: edshook tune {out} (chooses the probe band on validation prompts)."
    )
    conditional.save(out)


def tune(
    policy: Annotated[Path, typer.Argument(help="A conditional policy folder; its probe thresholds are rewritten.")],
    margin: Annotated[
        float, typer.Option(help="Required refusal gain over base on every harmful validation set.")
    ] = 0.0,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = Library.nnsight,
    dtype: DtypeOption = Precision.auto,
    device: DeviceOption = None,
    device_map: DeviceMapOption = None,
    judge: JudgeOption = JudgeName.substring,
    max_new_tokens: int = 96,
    batch_size: int = 32,
    reuse: Annotated[
        Path | None,
        typer.Option(help="An earlier tuning folder of this policy (same judge and tokens): its answers are kept."),
    ] = None,
    seed: int = 0,
) -> None:
    """Choose a conditional policy's probe band on the validation split (never on test prompts).

    Scores up to benign_below take the benign energy, scores above harmful_above the harmful one, and
    those between are left unsteered; every band of the candidate thresholds is tried. 200 bootstrap
    draws of the prompts say how firm the choice is; under half picking it, a warning says so. With
    --reuse, prompts an earlier tuning answered are not answered again: tune on more prompts for less.
    """
    from edshook.data import VALIDATION_SOURCES, select_prompts
    from edshook.evaluation import tune_thresholds
    from edshook.interventions import ConditionalSteering
    from edshook.judges import AnswerJudge

    earlier = [] if reuse is None else _earlier_answers(reuse, judge=judge.value, max_new_tokens=max_new_tokens)
    chosen = select_prompts(split="val", sets=VALIDATION_SOURCES, limit=limit, seed=seed, data_dir=data_dir)
    runner = open_backend(model, backend, dtype, device, device_map)
    record(policy / "tuning", "tune", locals(), data_ids=[i for s in chosen.values() for i in s.ids], backend=runner)
    conditional = ConditionalSteering.load(policy, model=runner.spec)
    tuning = tune_thresholds(
        runner,
        conditional,
        chosen,
        AnswerJudge.build(judge.value),
        margin=margin,
        earlier=earlier,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
    )
    typer.echo(tuning.markdown())
    tuning.save(policy / "tuning")
    chosen_thresholds = {"benign_below": tuning.benign_below, "harmful_above": tuning.harmful_above}
    facts: dict[str, object] = {"margin": margin, "feasible": tuning.feasible, "judge": judge.value}
    facts |= {"max_new_tokens": max_new_tokens, "stability": tuning.stability, "resamples": tuning.resamples}
    metadata = {**conditional.metadata, "tuning": {**chosen_thresholds, **facts, "n": tuning.n}}
    conditional.replace(**chosen_thresholds, metadata=metadata).save(policy)
    typer.echo(
        f"probe thresholds benign_below {tuning.benign_below:g}, harmful_above {tuning.harmful_above:g} -> {policy}"
    )
    if tuning.stability is not None and tuning.stability < UNSTABLE_BELOW:
        typer.echo(
            f"Unstable: {100 * tuning.stability:.0f}% of bootstrap draws of the validation prompts pick this band. "
            "Fix: tune on more validation prompts (raise or drop --limit) before trusting it.",
            err=True,
        )


def _earlier_answers(folder: Path, *, judge: str, max_new_tokens: int) -> list[AnswerRecord]:
    """The answers of the tuning record ``folder``, after checking it was judged and cut as this run will be."""
    import json

    from edshook.evaluation import AnswerRecord, answers_path, read_answers
    from edshook.records import RECORD

    path = answers_path(folder)
    if not path.is_file():
        raise typer.BadParameter(f"No answers at {folder}: give a folder edshook tune wrote.", param_hint="--reuse")
    settings = json.loads((folder / RECORD).read_text())["settings"] if (folder / RECORD).is_file() else {}
    for key, value in (("judge", judge), ("max_new_tokens", max_new_tokens)):
        if key in settings and settings[key] != value:
            raise typer.BadParameter(
                f"{folder} was tuned with {key} {settings[key]}, this run uses {value}: its answers would not count "
                f"alike. Fix: pass --{key.replace('_', '-')} {settings[key]}, or tune without --reuse.",
                param_hint="--reuse",
            )
    return [AnswerRecord.from_json(row) for row in read_answers(path)]


def _print_layers(reports: Mapping[Any, Mapping[str, Any]]) -> None:
    """One line per layer, from layer reports in their saved JSON form (layer -> fields)."""
    typer.echo("layer  val_acc  val_auc  energy_threshold  epochs")
    for layer, r in sorted(reports.items(), key=lambda item: int(item[0])):
        typer.echo(
            f"{int(layer):5d}  {r['val_accuracy']:7.3f}  {r['val_auc']:7.3f}  "
            f"{r['energy_threshold']:16.3f}  {int(r['epochs']):6d}"
        )
