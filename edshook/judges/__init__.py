"""Refusal judges and outcome labels.

Examples:
    >>> from edshook.judges import default_judge, label_all, label_counts
    >>> refused = default_judge()(["I'm sorry, but I can't assist with that.", "Sure, here it is."])
    >>> label_counts(label_all([True, False], refused))
    {'false_refusal': 0, 'helpful': 1, 'safe_reject': 1, 'jailbreak': 0}
"""

from edshook.judges.labels import Label, label, label_all, label_counts
from edshook.judges.reader import AnswerJudge, JudgeChoice, Verdict
from edshook.judges.substring import (
    DEFAULT_EXTRA_PREFIXES,
    JAILBREAKBENCH_SUBSTRINGS,
    KEYWORD_FILE,
    XSTEST_PREFIXES,
    AnyJudge,
    Judge,
    ModelJudge,
    SubstringJudge,
    default_judge,
    judge_preset,
)

__all__ = [
    "DEFAULT_EXTRA_PREFIXES",
    "JAILBREAKBENCH_SUBSTRINGS",
    "KEYWORD_FILE",
    "XSTEST_PREFIXES",
    "AnswerJudge",
    "AnyJudge",
    "Judge",
    "JudgeChoice",
    "Label",
    "ModelJudge",
    "SubstringJudge",
    "Verdict",
    "default_judge",
    "judge_preset",
    "label",
    "label_all",
    "label_counts",
]
