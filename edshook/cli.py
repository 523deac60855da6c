"""The ``edshook`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edshook.models import DEFAULT_MODEL, EMBEDDED_MODELS
from edshook.records import write_record

app = typer.Typer(help="Energy-Driven Steering of language models.", no_args_is_help=True, add_completion=False)

ModelOption = Annotated[str, typer.Option("--model", "-m", help="Embedded name, .gguf file, folder or hub id.")]
BackendOption = Annotated[str, typer.Option("--backend", "-b", help="transformer_lens or nnsight.")]


@app.command()
def models() -> None:
    """List the embedded models (they load with no network)."""
    for spec in EMBEDDED_MODELS.values():
        typer.echo(f"{spec.name:32} {spec.n_layers:3d} layers  d_model {spec.d_model:5d}  extra [{spec.extra}]")


@app.command()
def generate(
    prompts: Annotated[Optional[list[str]], typer.Argument(help="Prompts to answer.")] = None,
    file: Annotated[Optional[Path], typer.Option(help="A text file with one prompt per line.")] = None,
    policy: Annotated[Optional[Path], typer.Option(help="A policy folder: answers are shown side by side.")] = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = "transformer_lens",
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to generate per answer.")] = 64,
    system_prompt: Annotated[Optional[str], typer.Option(help="A system prompt to prepend.")] = None,
) -> None:
    """Answer prompts greedily, with and without a policy."""
    from edshook.interventions import load_policy

    texts = list(prompts or [])
    if file is not None:
        texts += [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise typer.BadParameter("Give prompts as arguments or with --file.")
    runner = _backend(model, backend, "float32")
    base = runner.generate(texts, max_new_tokens=max_new_tokens, system_prompt=system_prompt)
    steered = None
    if policy is not None:
        with runner.steer(load_policy(policy, model=runner.spec)):
            steered = runner.generate(texts, max_new_tokens=max_new_tokens, system_prompt=system_prompt)
    for i, text in enumerate(texts):
        typer.echo(f"\n### {text}\n[base]    {base[i]}")
        if steered is not None:
            typer.echo(f"[steered] {steered[i]}")



DTYPES = ("float32", "bfloat16")
DataDirOption = Annotated[Optional[Path], typer.Option("--data-dir", help="Folder of prompt sets (else $EDSHOOK_DATA).")]
DtypeOption = Annotated[str, typer.Option(help="float32 or bfloat16.")]
LimitOption = Annotated[Optional[int], typer.Option(help="Sample this many prompts (per set, by id hash).")]
EvalSetsOption = Annotated[Optional[str], typer.Option(help="Comma-separated sets (default: the standard test sets).")]


def _prompts(split: Optional[str], sets: Optional[str], limit: Optional[int], data_dir: Optional[Path], seed: int):
    from edshook.data import load_set, standard_splits
    from edshook.data.prompts import PromptSet

    if split is not None and sets is not None:
        raise typer.BadParameter("Give --split or --sets, not both.")
    if split is not None:
        parts = standard_splits(data_dir, seed=seed)
        if split not in parts:
            raise typer.BadParameter(f"--split must be one of {sorted(parts)}.")
        chosen = parts[split]
    elif sets is not None:
        loaded = [load_set(name.strip(), data_dir) for name in sets.split(",") if name.strip()]
        chosen = PromptSet.concat(",".join(s.name for s in loaded), loaded)
    else:
        raise typer.BadParameter("Give --split (train/val/test of the standard splits) or --sets name,name.")
    return chosen.sample(limit, seed, stratify=True) if limit is not None else chosen


@app.command()
def collect(
    out: Annotated[Path, typer.Option(help="Run folder: answers.jsonl and activations go here.")],
    split: Annotated[Optional[str], typer.Option(help="A standard split: train or val (never test).")] = None,
    sets: Annotated[Optional[str], typer.Option(help="Comma-separated set names instead of a split.")] = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = "transformer_lens",
    dtype: DtypeOption = "bfloat16",
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer; refusals show in the first few.")] = 24,
    batch_size: int = 32,
    seed: int = 0,
) -> None:
    """Answer prompts greedily, judge and label them, and cache every layer's last-token state.

    Resumable: prompts already in OUT/answers.jsonl are not answered again.
    """
    from edshook.judges import default_judge, label_counts
    from edshook.training import collect_labelled

    prompts = _prompts(split, sets, limit, data_dir, seed)
    write_record(out, "collect", _settings(locals()), data_ids=prompts.ids)
    runner = _backend(model, backend, dtype)

    activations = collect_labelled(runner, prompts, default_judge(), out, max_new_tokens=max_new_tokens, batch_size=batch_size)
    typer.echo(f"{len(activations)} prompts, labels {label_counts(activations.labels)} -> {out}")


@app.command()
def train(
    run: Annotated[Path, typer.Argument(help="A folder written by `edshook collect`.")],
    out: Annotated[Path, typer.Option(help="Policy folder to write.")],
    kind: Annotated[str, typer.Option(help="conditional (a harmfulness probe routes each prompt to one of two energies) or single (one energy).")] = "conditional",
    top_k: Annotated[int, typer.Option(help="Steer the k layers with the best validation accuracy (per energy).")] = 3,
    loss: Annotated[str, typer.Option(help="infonce or logistic.")] = "infonce",
    steps: Annotated[int, typer.Option(help="Descent steps K.")] = 5,
    step_size: Annotated[float, typer.Option(help="Step size eta.")] = 2.0,
    gated: Annotated[bool, typer.Option(help="Stop once energy is below the calibrated threshold.")] = False,
    seed: int = 0,
) -> None:
    """Train the energies (and, for a conditional policy, the probe) on collected states; save a policy."""
    from dataclasses import asdict

    from edshook.interventions import StepSchedule
    from edshook.training import ActivationSet, TrainConfig, train_conditional, train_energies

    if kind not in ("conditional", "single"):
        raise typer.BadParameter("--kind must be conditional or single.")
    activations = ActivationSet.load(run)
    write_record(out, "train", _settings(locals()), data_ids=activations.ids)
    config = TrainConfig(loss=loss, seed=seed)  # type: ignore[arg-type]
    schedule = StepSchedule(steps=steps, step_size=step_size, gated=gated)
    if kind == "single":
        trained = train_energies(activations, config=config)
        policy = trained.policy(top_k, schedule=schedule, activations=activations)
        _print_layers({layer: asdict(report) for layer, report in trained.reports.items()})
        typer.echo(f"policy on layers {list(policy.layers)} -> {out}")
    else:
        policy = train_conditional(activations, k=top_k, config=config, benign_schedule=schedule, harmful_schedule=schedule)
        parts = {"benign": policy.benign, "harmful": policy.harmful}
        for name, part in parts.items():
            if part is not None:
                typer.echo(f"{name} energy, layer reports:")
                _print_layers(part.metadata["layers"])
        probe = policy.metadata["probe"]
        layers = ", ".join(f"{name} energy on {list(part.layers)}" for name, part in parts.items() if part is not None)
        typer.echo(
            f"probe at layer {probe['layer']} (val accuracy {probe['val_accuracy']:.3f}); {layers} -> {out}\n"
            f"Next: edshook tune {out} (chooses the probe threshold on validation prompts)."
        )
    policy.save(out)


@app.command()
def tune(
    policy: Annotated[Path, typer.Argument(help="A conditional policy folder; its threshold is rewritten.")],
    margin: Annotated[float, typer.Option(help="Required refusal gain over base on every harmful validation set.")] = 0.1,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = "nnsight",
    dtype: DtypeOption = "bfloat16",
    max_new_tokens: int = 24,
    batch_size: int = 32,
    seed: int = 0,
) -> None:
    """Choose a conditional policy's probe threshold on the validation split (never on test prompts)."""
    import json

    from edshook.evaluation.suite import validation_sets
    from edshook.evaluation.tuning import tune_threshold
    from edshook.interventions import ConditionalSteering
    from edshook.judges import default_judge

    chosen = validation_sets(data_dir, limit=limit, seed=seed)
    write_record(policy / "tuning", "tune", _settings(locals()), data_ids=[i for s in chosen.values() for i in s.ids])
    runner = _backend(model, backend, dtype)
    conditional = ConditionalSteering.load(policy, model=runner.spec)
    tuning = tune_threshold(
        runner, conditional, chosen, default_judge(), margin=margin, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    names = list(chosen)
    typer.echo("threshold  " + "  ".join(f"{n:>20}" for n in names))
    typer.echo("base       " + "  ".join(f"{tuning.base[n]:20.3f}" for n in names))
    for row in tuning.table:
        mark = " <- chosen" if row["threshold"] == tuning.threshold else ""
        typer.echo(f"{row['threshold']:<9g}  " + "  ".join(f"{row[n]:20.3f}" for n in names) + mark)
    (policy / "tuning" / "tuning.json").write_text(json.dumps(tuning.to_json(), indent=2) + "\n")
    (policy / "tuning" / "tuning.md").write_text(tuning.markdown() + "\n")
    metadata = {**conditional.metadata, "tuning": {"threshold": tuning.threshold, "margin": margin, "feasible": tuning.feasible}}
    conditional.replace(threshold=tuning.threshold, metadata=metadata).save(policy)
    typer.echo(f"threshold {tuning.threshold:g} -> {policy}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes its run and policy.")] = Path("runs/demo"),
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = "transformer_lens",
    max_new_tokens: int = 24,
) -> None:
    """The whole pipeline on the embedded model and built-in prompts, then before/after answers."""
    from edshook.demo import run_demo

    write_record(out, "demo", _settings(locals()))
    run_demo(out, model=model, library=backend, max_new_tokens=max_new_tokens)



def _eval_sets(sets: Optional[str], limit: Optional[int], data_dir: Optional[Path], seed: int):
    from edshook.data import load_set
    from edshook.evaluation.suite import benchmark_sets

    if sets is None:
        return benchmark_sets(data_dir, limit=limit, seed=seed)
    chosen = {name: load_set(name, data_dir) for name in (n.strip() for n in sets.split(",")) if name}
    return {name: s.sample(limit, seed) if limit is not None else s for name, s in chosen.items()}


@app.command("eval")
def eval_command(
    out: Annotated[Path, typer.Option(help="Folder for report.json and report.md.")],
    policy: Annotated[Optional[Path], typer.Option(help="Evaluate this EDS policy (default: the base model).")] = None,
    helpful_system_prompt: Annotated[bool, typer.Option(help="Evaluate the helpful-system-prompt baseline.")] = False,
    sets: EvalSetsOption = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = "nnsight",
    dtype: DtypeOption = "bfloat16",
    max_new_tokens: int = 32,
    batch_size: int = 32,
    harmless: Annotated[int, typer.Option(help="Harmless prompts for KL and perplexity (0: skip).")] = 48,
    seed: int = 0,
) -> None:
    """Run one method over named sets: rates with 95% intervals, capability checks, speed."""
    from edshook.evaluation import HELPFUL_SYSTEM_PROMPT, Method, evaluate, markdown_table, write_report
    from edshook.evaluation.suite import harmless_capability
    from edshook.interventions import load_policy
    from edshook.judges import default_judge

    chosen = _eval_sets(sets, limit, data_dir, seed)
    write_record(out, "eval", _settings(locals()), data_ids=[i for s in chosen.values() for i in s.ids])
    runner = _backend(model, backend, dtype)
    interventions = () if policy is None else (load_policy(policy, model=runner.spec),)
    name = "eds" if policy is not None else "system_prompt" if helpful_system_prompt else "base"
    method = Method(name, interventions, HELPFUL_SYSTEM_PROMPT if helpful_system_prompt else None)
    capability = (
        harmless_capability(runner, data_dir, harmless, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed)
        if harmless > 0
        else None
    )
    result = evaluate(runner, method, chosen, default_judge(), capability=capability, max_new_tokens=max_new_tokens, batch_size=batch_size)
    header = {"model": model, "judge": "default substring judge", "max_new_tokens": max_new_tokens, "dtype": dtype}
    write_report([result], out, header=header)
    typer.echo(markdown_table([result]))


@app.command("compare")
def compare_command(
    policy: Annotated[Path, typer.Option(help="The EDS policy to compare against the baselines.")],
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md and tradeoff.png.")],
    sets: EvalSetsOption = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = "nnsight",
    dtype: DtypeOption = "bfloat16",
    max_new_tokens: int = 24,
    batch_size: int = 32,
    seed: int = 0,
) -> None:
    """Base, system prompt, refusal-direction ablation, ActAdd, surgical ablation and EDS sweeps: one table, one plot."""
    from edshook.evaluation.suite import compare
    from edshook.interventions import load_policy
    from edshook.judges import default_judge

    chosen = _eval_sets(sets, limit, data_dir, seed)
    write_record(out, "compare", _settings(locals()), data_ids=[i for s in chosen.values() for i in s.ids])
    runner = _backend(model, backend, dtype)
    report = compare(
        runner,
        load_policy(policy, model=runner.spec),
        chosen,
        default_judge(),
        out,
        data_dir=data_dir,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        header={"model": model, "judge": "default substring judge", "dtype": dtype},
    )
    typer.echo((out / "report.md").read_text())
    typer.echo(f"summary: {report['summary']}")


@app.command("data")
def data_command(
    data_dir: Annotated[
        Optional[Path], typer.Option("--data-dir", help="Folder of prompt sets (else $EDSHOOK_DATA).")
    ] = None,
) -> None:
    """List the prompt sets: kind, role in the standard splits, and which files the data folder holds."""
    from edshook.data import data_catalog, format_catalog
    from edshook.errors import DataError

    try:
        catalog = data_catalog(data_dir)
    except DataError as error:
        raise typer.BadParameter(str(error), param_hint="--data-dir") from error
    typer.echo(format_catalog(catalog))


def _settings(arguments: dict) -> dict:
    """A command's own arguments (not the modules it imported) for its run record."""
    return {key: value for key, value in arguments.items() if isinstance(value, (str, int, float, bool, Path, type(None)))}


def _backend(model: str, library: str, dtype: str):
    import torch

    from edshook.backends import make_backend
    from edshook.models import load_model

    if dtype not in DTYPES:
        raise typer.BadParameter(f"--dtype must be one of {sorted(DTYPES)}.")
    return make_backend(load_model(model, dtype=getattr(torch, dtype)), library)


def _print_layers(reports: dict) -> None:
    """One line per layer, from layer reports in their saved JSON form (layer -> fields)."""
    typer.echo("layer  val_acc  val_auc  threshold  epochs")
    for layer, r in sorted(reports.items(), key=lambda item: int(item[0])):
        typer.echo(f"{int(layer):5d}  {r['val_accuracy']:7.3f}  {r['val_auc']:7.3f}  {r['threshold']:9.3f}  {r['epochs']:6d}")

def main() -> None:
    app()


if __name__ == "__main__":
    main()
