"""Prompts -> greedy answers -> refusal judge -> labels -> activations, resumable on disk."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from edshook.backends.base import Backend
from edshook.data.prompts import PromptSet
from edshook.errors import DataError, PolicyMismatchError
from edshook.interventions.protocol import ModelSpec
from edshook.judges import Judge, Label, label
from edshook.training.activations import ActivationSet

__all__ = ["Answer", "answer_prompts", "collect_labelled"]

ANSWERS = "answers.jsonl"
RUN = "run.json"


@dataclass(frozen=True)
class Answer:
    """A prompt's greedy answer and its outcome label."""

    id: str
    text: str
    harmful: bool
    answer: str
    refused: bool
    label: Label


def answer_prompts(
    backend: Backend,
    prompts: PromptSet,
    judge: Judge,
    *,
    out: Path | None = None,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    chunk: int = 128,
    progress: bool = True,
) -> list[Answer]:
    """Answer, judge and label every prompt; with ``out``, answers are appended to
    ``out/answers.jsonl`` chunk by chunk and prompts already there are not answered again."""
    done: dict[str, Answer] = {}
    path = None if out is None else Path(out) / ANSWERS
    if path is not None and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done[row["id"]] = Answer(**{**row, "label": Label(row["label"])})
    todo = [p for p in prompts if p.id not in done]
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        texts = backend.generate([p.text for p in part], max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress)
        refused = judge(texts, [p.text for p in part])
        new = [Answer(p.id, p.text, p.harmful, a, r, label(p.harmful, r)) for p, a, r in zip(part, texts, refused)]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as sink:
                for row in new:
                    sink.write(json.dumps({**row.__dict__, "label": str(row.label)}) + "\n")
        done.update((row.id, row) for row in new)
    return [done[p.id] for p in prompts]


def collect_labelled(
    backend: Backend,
    prompts: PromptSet,
    judge: Judge,
    out: Path,
    *,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    progress: bool = True,
) -> ActivationSet:
    """The whole collection step: answers and labels (resumable), then every layer's state at the
    last prompt token, saved in ``out``."""
    if len(prompts) == 0:
        raise DataError("The prompt set is empty: nothing to collect.")
    _claim_run(Path(out), backend.spec)
    answers = answer_prompts(
        backend, prompts, judge, out=out, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress
    )
    states = backend.collect([p.text for p in prompts], batch_size=batch_size, progress=progress)
    activations = ActivationSet(
        states=states,
        layers=tuple(range(backend.n_layers)),
        ids=tuple(p.id for p in prompts),
        labels=tuple(a.label for a in answers),
        model=backend.spec,
    )
    activations.save(out)
    return activations


def _claim_run(out: Path, spec: ModelSpec) -> None:
    """Tie a run folder to one model, so answers from another model are never resumed into it."""
    path = out / RUN
    if path.is_file():
        recorded = ModelSpec(**json.loads(path.read_text())["model"])
        if recorded != spec:
            raise PolicyMismatchError(
                f"{out} holds a run of {recorded}, not {spec}. Fix: pass another --out folder for this model."
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": asdict(spec)}, indent=2) + "\n")
