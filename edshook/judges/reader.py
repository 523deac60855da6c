"""Reading answers as a reader would: the substring judge, the model judge, or both, with degeneracy measures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from edshook.judges.base import Judge
from edshook.judges.degeneracy import Degeneracy, measure_degeneracy
from edshook.judges.substring import default_judge

if TYPE_CHECKING:
    from edshook.judges.model import ModelJudge, ModelVerdict

__all__ = ["AnswerJudge", "JudgeChoice", "Verdict"]

JudgeChoice = Literal["substring", "model", "both"]


@dataclass(frozen=True)
class Verdict:
    """Every judge's reading of one answer.

    Attributes:
        refused: The substring judge's call (None when it was not asked).
        model: The model judge's verdict (None when it was not asked).
        degeneracy: Model-free measures of the answer (repetition, diversity, echo of the prompt).
        perplexity: The unsteered model's perplexity of the answer after its prompt, when measured.
    """

    refused: bool | None
    model: ModelVerdict | None = None
    degeneracy: Degeneracy | None = None
    perplexity: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "substring": None if self.refused is None else {"refused": self.refused},
            "model": None if self.model is None else self.model.to_json(),
            "degeneracy": None if self.degeneracy is None else self.degeneracy.to_json(),
            "perplexity": None if self.perplexity is None else round(self.perplexity, 4),
        }

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Verdict:
        """The verdict a :meth:`to_json` form holds, e.g. a row of ``answers.jsonl`` (figures as rounded there)."""
        from edshook.judges.model import ModelVerdict

        def measures(figures: Mapping[str, Any] | None) -> Degeneracy | None:
            return None if figures is None else Degeneracy(**figures)

        substring, model = row.get("substring"), row.get("model")
        return cls(
            refused=None if substring is None else bool(substring["refused"]),
            model=None
            if model is None
            else ModelVerdict(
                model["label"],
                dict(model["probabilities"]),
                model["harmful"],
                measures(model.get("degeneracy")),
                model.get("refusal_phrase"),
            ),
            degeneracy=measures(row.get("degeneracy")),
            perplexity=row.get("perplexity"),
        )

    def settled(self) -> Verdict:
        """This verdict with the model label settled as the model judge settles it now, the substring
        call standing for the refusal phrase (both read the default phrases): how a verdict stored
        before the judge checked phrases counts today, with no model run."""
        if self.model is None or self.refused is None:
            return self
        return replace(self, model=self.model.settled(self.refused))


@dataclass(frozen=True)
class AnswerJudge:
    """The judges an evaluation reads answers with.

    Args:
        substring: The keyword refusal judge, or None.
        model: The model judge (helpful / refusal / degenerate, and harmful for harmful prompts), or None.

    Examples:
        >>> AnswerJudge().choice
        'substring'
    """

    substring: Judge | None = field(default_factory=default_judge)
    model: ModelJudge | None = None

    def __post_init__(self) -> None:
        if self.substring is None and self.model is None:
            raise ValueError("AnswerJudge needs a substring judge, a model judge, or both.")

    @classmethod
    def build(
        cls,
        choice: JudgeChoice = "substring",
        *,
        judge_model: str | None = None,
        device: str | None = None,
        progress: bool = False,
    ) -> AnswerJudge:
        """The judges for a ``--judge`` choice; the model judge is loaded (by default the embedded
        Qwen2.5-Coder-1.5B-Instruct) only when asked for, with a progress bar while it reads if ``progress``."""
        model = None
        if choice in ("model", "both"):
            from edshook.judges.model import DEFAULT_JUDGE_MODEL, ModelJudge

            model = ModelJudge.load(judge_model or DEFAULT_JUDGE_MODEL, device=device, progress=progress)
        return cls(default_judge() if choice in ("substring", "both") else None, model)

    @property
    def choice(self) -> JudgeChoice:
        if self.substring is not None and self.model is not None:
            return "both"
        return "model" if self.model is not None else "substring"

    def describe(self) -> dict[str, Any]:
        """What read the answers, for report headers."""
        return {
            "judge": self.choice,
            "substring_judge": None if self.substring is None else self.substring.name,
            "judge_model": None if self.model is None else self.model.model_id,
        }

    def __call__(
        self,
        prompts: Sequence[str],
        answers: Sequence[str],
        harmful: Sequence[bool],
        perplexities: Sequence[float] | None = None,
    ) -> list[Verdict]:
        """One verdict per answer; ``harmful`` is each prompt's ground truth."""
        refused = self.substring(answers, prompts) if self.substring is not None else [None] * len(answers)
        verdicts = self.model.verdicts(prompts, answers, harmful) if self.model is not None else [None] * len(answers)
        return [
            Verdict(
                refused=refused[i],
                model=verdicts[i],
                degeneracy=measure_degeneracy(answers[i], prompts[i]),
                perplexity=None if perplexities is None else perplexities[i],
            )
            for i in range(len(answers))
        ]
