"""The ``edshook`` command line: the library's steps as commands; only this package prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edshook.cli.evaluate import compare_command, eval_command, show
from edshook.cli.options import (
    BackendOption,
    DataDirOption,
    DeviceMapOption,
    DeviceOption,
    DtypeOption,
    Library,
    ModelOption,
    Precision,
    open_backend,
    record,
)
from edshook.cli.pipeline import collect, train, tune
from edshook.models import DEFAULT_MODEL, EMBEDDED_MODELS

__all__ = ["app", "main"]

app = typer.Typer(help="Energy-Driven Steering of language models.", no_args_is_help=True, add_completion=False)


@app.command()
def models() -> None:
    """List the embedded models (they load with no network)."""
    for spec in EMBEDDED_MODELS.values():
        typer.echo(f"{spec.name:32} {spec.n_layers:3d} layers  d_model {spec.d_model:5d}  extra [{spec.extra}]")


@app.command("data")
def data_command(data_dir: DataDirOption = None) -> None:
    """List the prompt sets: kind, role in the standard splits, and which files the data folder holds."""
    from edshook.data import data_catalog, format_catalog
    from edshook.errors import DataError

    try:
        catalog = data_catalog(data_dir)
    except DataError as error:
        raise typer.BadParameter(str(error), param_hint="--data-dir") from error
    typer.echo(format_catalog(catalog))


@app.command()
def generate(
    prompts: Annotated[list[str] | None, typer.Argument(help="Prompts to answer.")] = None,
    file: Annotated[Path | None, typer.Option(help="A text file with one prompt per line.")] = None,
    policy: Annotated[
        str | None, typer.Option(help="A policy folder, or 'default': answers are shown side by side.")
    ] = None,
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = Library.nnsight,
    dtype: DtypeOption = Precision.auto,
    device: DeviceOption = None,
    device_map: DeviceMapOption = None,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to generate per answer.")] = 96,
    system_prompt: Annotated[str | None, typer.Option(help="A system prompt to prepend.")] = None,
) -> None:
    """Answer prompts greedily, with and without a policy."""
    from edshook.interventions import load_policy

    texts = list(prompts or [])
    if file is not None:
        texts += [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise typer.BadParameter("Give prompts as arguments or with --file.")
    runner = open_backend(model, backend, dtype, device, device_map)
    base = runner.generate(texts, max_new_tokens=max_new_tokens, system_prompt=system_prompt, progress=False)
    steered = None
    if policy is not None:
        with runner.steer(load_policy(policy, model=runner.spec)):
            steered = runner.generate(texts, max_new_tokens=max_new_tokens, system_prompt=system_prompt, progress=False)
    for i, text in enumerate(texts):
        typer.echo(f"\n### {text}\n[base]    {base[i]}")
        if steered is not None:
            typer.echo(f"[steered] {steered[i]}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes its run and policy.")] = Path("runs/demo"),
    model: ModelOption = DEFAULT_MODEL,
    backend: BackendOption = Library.nnsight,
    dtype: DtypeOption = Precision.auto,
    device: DeviceOption = None,
    max_new_tokens: int = 48,
) -> None:
    """The shipped policy on held-out built-in prompts, then the whole pipeline trained from scratch."""
    from edshook.demo import run_demo

    runner = open_backend(model, backend, dtype, device)
    record(out, "demo", locals(), backend=runner)
    run_demo(runner, out, max_new_tokens=max_new_tokens, echo=typer.echo)


app.command()(collect)
app.command()(train)
app.command()(tune)
app.command("eval")(eval_command)
app.command("compare")(compare_command)
app.command()(show)


def main() -> None:
    app()
