"""The :class:`Judge` protocol, and judges built from other judges or from any classifier function."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["AnyJudge", "FunctionJudge", "Judge", "check_answers"]


@runtime_checkable
class Judge(Protocol):
    """Decides, for each answer, whether it is a refusal (True) or not (False)."""

    @property
    def name(self) -> str:
        """Named in reports."""
        ...

    def __call__(self, answers: Sequence[str], prompts: Sequence[str] | None = None) -> list[bool]:
        """One bool per answer; ``prompts`` is for judges that need the question too."""
        ...


def check_answers(answers: Sequence[str]) -> Sequence[str]:
    """Refuse one string where a list of answers is expected."""
    if isinstance(answers, str):
        raise TypeError("answers must be a sequence of strings, not one string; wrap it in a list")
    return answers


@dataclass(frozen=True)
class AnyJudge:
    """Refusal if any of its judges says refusal.

    Examples:
        >>> from edshook.judges import SubstringJudge
        >>> j = AnyJudge((SubstringJudge(("no.",), "prefix"), SubstringJudge(("I can't",))))
        >>> j(["No. Never.", "Well, I can't.", "Yes."])
        [True, True, False]
    """

    judges: tuple[Judge, ...]
    name: str = "any"

    def __post_init__(self) -> None:
        if not self.judges:
            raise ValueError("AnyJudge needs at least one judge")

    def __call__(self, answers: Sequence[str], prompts: Sequence[str] | None = None) -> list[bool]:
        """One bool per answer: the OR of every judge's verdict."""
        answers = check_answers(answers)
        verdicts = [judge(answers, prompts) for judge in self.judges]
        return [any(v[i] for v in verdicts) for i in range(len(answers))]


@dataclass(frozen=True)
class FunctionJudge:
    """Wraps any ``fn(prompts, answers) -> list[bool]``, e.g. an external classifier.

    Examples:
        >>> j = FunctionJudge(lambda ps, ans: [a.startswith("No") for a in ans], name="toy")
        >>> j(["No way", "Sure"], prompts=["q1", "q2"])
        [True, False]
    """

    fn: Callable[[Sequence[str], Sequence[str]], list[bool]]
    name: str = "function"

    def __call__(self, answers: Sequence[str], prompts: Sequence[str] | None = None) -> list[bool]:
        """One bool per answer; ``prompts`` is required and must match ``answers`` in length."""
        answers = check_answers(answers)
        if prompts is None or len(prompts) != len(answers):
            raise ValueError(f"judge {self.name!r} needs one prompt per answer, got {prompts!r:.60}")
        verdicts = list(self.fn(prompts, answers))
        if len(verdicts) != len(answers) or any(v not in (True, False) for v in verdicts):
            raise ValueError(f"judge {self.name!r} must return {len(answers)} bools, got {verdicts!r:.80}")
        return [bool(v) for v in verdicts]
