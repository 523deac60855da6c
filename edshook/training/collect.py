"""Prompts -> greedy answers -> judges -> labels -> activations, resumable on disk."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edshook.backends.base import Backend
from edshook.data.prompts import PromptSet
from edshook.errors import DataError, PolicyMismatchError
from edshook.interventions.protocol import ModelSpec
from edshook.judges import AnswerJudge, Label, Verdict, label
from edshook.training.activations import ActivationSet

__all__ = ["ANSWERS", "Answer", "answer_prompts", "collect_labelled", "refused"]

ANSWERS = "answers.jsonl"
RUN = "run.json"


def refused(verdict: Verdict) -> bool:
    """Whether an answer is a refusal: the model judge's call when it ran, else the substring judge's."""
    if verdict.model is not None:
        return bool(verdict.model.label == "refusal")
    return bool(verdict.refused)


@dataclass(frozen=True)
class Answer:
    """A prompt's greedy answer, every judge's verdict on it, and its outcome label."""

    id: str
    text: str
    harmful: bool
    answer: str
    n_tokens: int
    refused: bool
    label: Label
    verdict: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        head = {"id": self.id, "prompt": self.text, "harmful": self.harmful, "answer": self.answer}
        return head | {"n_tokens": self.n_tokens, "refused": self.refused, "label": str(self.label)} | self.verdict

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Answer:
        verdict = {key: row[key] for key in ("substring", "model", "degeneracy", "perplexity")}
        return cls(
            row["id"],
            row["prompt"],
            row["harmful"],
            row["answer"],
            row["n_tokens"],
            row["refused"],
            Label(row["label"]),
            verdict,
        )


def answer_prompts(
    backend: Backend,
    prompts: PromptSet,
    judge: AnswerJudge,
    *,
    out: Path | None = None,
    max_new_tokens: int = 24,
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
            answer = Answer.from_json(json.loads(line))
            done[answer.id] = answer
    todo = [p for p in prompts if p.id not in done]
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        texts = [p.text for p in part]
        rows = backend.generate_tokens(texts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress)
        answers = [backend.decode(row) for row in rows]
        verdicts = judge(texts, answers, [p.harmful for p in part])
        new = [
            Answer(p.id, p.text, p.harmful, a, len(row), refused(v), label(p.harmful, refused(v)), v.to_json())
            for p, a, row, v in zip(part, answers, rows, verdicts, strict=True)
        ]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as sink:
                sink.writelines(json.dumps(answer.to_json(), ensure_ascii=False) + "\n" for answer in new)
        done.update((answer.id, answer) for answer in new)
    return [done[p.id] for p in prompts]


def collect_labelled(
    backend: Backend,
    prompts: PromptSet,
    judge: AnswerJudge,
    out: Path | str,
    *,
    max_new_tokens: int = 24,
    batch_size: int = 16,
    progress: bool = True,
) -> ActivationSet:
    """The whole collection step: answers and labels (resumable), then every layer's state at the
    last prompt token, saved in ``out``."""
    if len(prompts) == 0:
        raise DataError("The prompt set is empty: nothing to collect.")
    out = Path(out)
    _claim_run(out, backend.spec)
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
