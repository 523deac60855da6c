"""Measuring methods: ``eval`` (one method), ``compare`` (every baseline and EDS), ``show`` (read the answers)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Annotated, Any

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

__all__ = ["compare_command", "eval_command", "show"]

MaxTokensOption = Annotated[
    int, typer.Option(help="Tokens per answer (refusals after a helpful start and loops show late).")
]


EvalSplitOption = Annotated[
    Split | None,
    typer.Option(help="Take the sets' prompts in this part of the standard splits (default: test, with no --sets)."),
]


def _sets(sets: str | None, split: Split | None, limit: int | None, data_dir: Path | None, seed: int):  # type: ignore[no-untyped-def]
    """The test parts of the benchmark sets by default; else the named sets, in ``split`` or whole.

    A set with train and val parts is never taken whole: its rates would mix in the prompts policies
    are trained and tuned on.
    """
    from edshook.data import BENCHMARK_SOURCES, select_prompts, standard_role
    from edshook.errors import DataError

    names = set_names(sets)
    try:
        if split is None and not names:
            return select_prompts(split="test", sets=BENCHMARK_SOURCES, limit=limit, seed=seed, data_dir=data_dir)
        if split is None:
            trained = [n for n in names if standard_role(n) in ("split 60/20/20", "training pool 80/20")]
            if trained:
                raise DataError(
                    f"Evaluated whole, {', '.join(trained)} would count the train and val prompts that policies "
                    "are trained and tuned on. Fix: --split test for the held-out part (a training pool has "
                    "none: --split val)."
                )
        return select_prompts(
            split=None if split is None else split.part, sets=names, limit=limit, seed=seed, data_dir=data_dir
        )
    except DataError as err:
        raise typer.BadParameter(f"{err} (--split / --sets)") from err


def eval_command(
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md and answers.jsonl.")],
    policy: Annotated[str | None, typer.Option(help="Evaluate this EDS policy: a folder, or 'default'.")] = None,
    helpful_system_prompt: Annotated[bool, typer.Option(help="Evaluate the helpful-system-prompt baseline.")] = False,
    sets: SetsOption = None,
    split: EvalSplitOption = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = Library.nnsight,
    dtype: DtypeOption = Precision.auto,
    device: DeviceOption = None,
    device_map: DeviceMapOption = None,
    judge: JudgeOption = JudgeName.substring,
    max_new_tokens: MaxTokensOption = 96,
    batch_size: int = 32,
    harmless: Annotated[int, typer.Option(help="Harmless prompts for KL and perplexity (0: skip).")] = 48,
    seed: int = 0,
) -> None:
    """Run one method over prompt sets (default: the test parts of the benchmark sets): rates with 95% intervals,
    capability checks, speed."""
    arguments = dict(locals())
    from edshook.evaluation import (
        HELPFUL_SYSTEM_PROMPT,
        Method,
        evaluate,
        harmless_capability,
        markdown_table,
        write_report,
    )
    from edshook.interventions import load_policy
    from edshook.judges import AnswerJudge

    chosen = _sets(sets, split, limit, data_dir, seed)
    runner = open_backend(model, backend, dtype, device, device_map)
    record(out, "eval", arguments, data_ids=[i for s in chosen.values() for i in s.ids], backend=runner)
    interventions = () if policy is None else (load_policy(policy, model=runner.spec),)
    name = "eds" if policy is not None else "system_prompt" if helpful_system_prompt else "base"
    method = Method(name, interventions, HELPFUL_SYSTEM_PROMPT if helpful_system_prompt else None)
    capability = None
    if harmless > 0:
        capability = harmless_capability(
            runner, data_dir, harmless, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed
        )
    readers = AnswerJudge.build(judge.value, progress=True)
    result = evaluate(
        runner,
        method,
        chosen,
        readers,
        capability=capability,
        answer_perplexity=readers.model is not None,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        progress=True,
    )
    header = {"model": runner.loaded.describe(), **readers.describe(), "max_new_tokens": max_new_tokens}
    write_report([result], out, header=header)
    typer.echo(markdown_table([result]))
    typer.echo(f"answers: {out / 'answers.jsonl'} (edshook show {out})")


def compare_command(
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md, answers.jsonl and tradeoff.png.")],
    policy: Annotated[
        str, typer.Option(help="The EDS policy to compare against the baselines: a folder, or 'default'.")
    ] = "default",
    sets: SetsOption = None,
    split: EvalSplitOption = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = Library.nnsight,
    dtype: DtypeOption = Precision.auto,
    device: DeviceOption = None,
    device_map: DeviceMapOption = None,
    judge: JudgeOption = JudgeName.substring,
    methods: Annotated[str | None, typer.Option(help="Run only these methods (comma-separated names).")] = None,
    max_new_tokens: MaxTokensOption = 96,
    batch_size: int = 32,
    seed: int = 0,
) -> None:
    """Base, system prompt, refusal-direction ablation, ActAdd, surgical ablation, EDS sweeps: one table, one plot."""
    from edshook.evaluation import compare, comparison_methods
    from edshook.interventions import load_policy
    from edshook.judges import AnswerJudge

    chosen = _sets(sets, split, limit, data_dir, seed)
    runner = open_backend(model, backend, dtype, device, device_map)
    record(out, "compare", locals(), data_ids=[i for s in chosen.values() for i in s.ids], backend=runner)
    readers = AnswerJudge.build(judge.value)
    only = set_names(methods) or None
    candidates = comparison_methods(runner, load_policy(policy, model=runner.spec), data_dir=data_dir, only=only)
    comparison = compare(
        runner,
        candidates,
        chosen,
        readers,
        data_dir=data_dir,
        only=only,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        header={"model": runner.loaded.describe()},
    )
    report = comparison.save(out)
    typer.echo((out / "report.md").read_text())
    typer.echo(json.dumps(report["summary"], indent=2))
    typer.echo(f"answers: {out / 'answers.jsonl'} (edshook show {out})")


def show(
    run: Annotated[
        Path,
        typer.Argument(help="A folder with answers.jsonl or answers.jsonl.gz (eval, compare, collect), or the file."),
    ],
    n: Annotated[int, typer.Option(help="How many prompts to show.")] = 5,
    set_name: Annotated[str | None, typer.Option("--set", help="Only prompts of this set.")] = None,
    width: Annotated[int, typer.Option(help="Wrap answers at this many characters.")] = 100,
) -> None:
    """Print a few answers side by side: each prompt once, then every method's answer and verdicts."""
    from edshook.evaluation import answers_path, read_answers

    path = answers_path(run)
    if not path.is_file():
        raise typer.BadParameter(f"No answers at {path}: give a folder written by edshook eval, compare or collect.")
    rows = [r for r in read_answers(path) if set_name is None or r.get("set") == set_name]
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_prompt.setdefault(row["id"], []).append(row)
    for prompt_id in list(by_prompt)[:n]:
        group = by_prompt[prompt_id]
        typer.echo(f"\n### {group[0].get('set', '')} {prompt_id}\n{textwrap.fill(group[0]['prompt'], width)}")
        for row in group:
            typer.echo(f"\n[{row.get('method', 'answer')}] {_verdicts(row)}")
            typer.echo(textwrap.indent(textwrap.fill(row["answer"] or "(empty)", width - 2), "  "))


def _verdicts(row: dict[str, Any]) -> str:
    parts = []
    if row.get("substring") is not None:
        parts.append("substring: refusal" if row["substring"]["refused"] else "substring: no refusal")
    model = row.get("model")
    if model is not None:
        harmful = "" if model.get("harmful") is None else f", P(harmful) {model['harmful']:.2f}"
        probabilities = model["probabilities"]
        unsaid = model.get("refusal_phrase") is False and max(probabilities, key=probabilities.get) == "refusal"
        why = f"; P(refusal) {probabilities['refusal']:.2f} but no refusal phrase" if unsaid else ""
        parts.append(f"model: {model['label']} ({probabilities[model['label']]:.2f}{harmful}{why})")
    return "; ".join(parts) + f"; {row['n_tokens']} tokens"
