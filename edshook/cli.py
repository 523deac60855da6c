"""The ``edshook`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edshook.models import DEFAULT_MODEL, EMBEDDED_MODELS

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
    from edshook.backends import make_backend
    from edshook.interventions import EnergySteering
    from edshook.models import load_model

    texts = list(prompts or [])
    if file is not None:
        texts += [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise typer.BadParameter("Give prompts as arguments or with --file.")
    runner = make_backend(load_model(model), backend)
    base = runner.generate(texts, max_new_tokens=max_new_tokens, system_prompt=system_prompt)
    steered = None
    if policy is not None:
        with runner.steer(EnergySteering.load(policy, model=runner.spec)):
            steered = runner.generate(texts, max_new_tokens=max_new_tokens, system_prompt=system_prompt)
    for i, text in enumerate(texts):
        typer.echo(f"\n### {text}\n[base]    {base[i]}")
        if steered is not None:
            typer.echo(f"[steered] {steered[i]}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
