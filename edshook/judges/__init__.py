"""Judges of answers: keyword refusal judges, a model judge, degeneracy measures, outcome labels.

Examples:
    >>> from edshook.judges import default_judge, label_all, label_counts
    >>> refused = default_judge()(["I'm sorry, but I can't assist with that.", "Sure, here it is."])
    >>> label_counts(label_all([True, False], refused))
    {'false_refusal': 0, 'helpful': 1, 'safe_reject': 1, 'jailbreak': 0}
    >>> from edshook.judges import measure_degeneracy
    >>> measure_degeneracy("la la la la la la la la").repeated_ngrams
    0.8
"""

from edshook.judges.base import AnyJudge, FunctionJudge, Judge
from edshook.judges.degeneracy import (
    Degeneracy,
    DegeneracyRule,
    distinct_n,
    echo_score,
    likelihood_measures,
    measure_degeneracy,
    repeated_ngram_fraction,
)
from edshook.judges.labels import Label, label, label_all, label_counts
from edshook.judges.model import DEFAULT_JUDGE_MODEL, JUDGE_LABELS, ModelJudge, ModelVerdict, settled_label
from edshook.judges.reader import AnswerJudge, JudgeChoice, Verdict
from edshook.judges.rubric import HARM_RUBRIC, LABEL_RUBRIC, Example, Rubric
from edshook.judges.scoring import RubricScorer, RubricScores, TokenBudget
from edshook.judges.substring import (
    DEFAULT_EXTRA_PREFIXES,
    JAILBREAKBENCH_SUBSTRINGS,
    KEYWORD_FILE,
    XSTEST_PREFIXES,
    SubstringJudge,
    default_judge,
    judge_preset,
)

__all__ = [
    "DEFAULT_EXTRA_PREFIXES",
    "DEFAULT_JUDGE_MODEL",
    "HARM_RUBRIC",
    "JAILBREAKBENCH_SUBSTRINGS",
    "JUDGE_LABELS",
    "KEYWORD_FILE",
    "LABEL_RUBRIC",
    "XSTEST_PREFIXES",
    "AnswerJudge",
    "AnyJudge",
    "Degeneracy",
    "DegeneracyRule",
    "Example",
    "FunctionJudge",
    "Judge",
    "JudgeChoice",
    "Label",
    "ModelJudge",
    "ModelVerdict",
    "Rubric",
    "RubricScorer",
    "RubricScores",
    "SubstringJudge",
    "TokenBudget",
    "Verdict",
    "default_judge",
    "distinct_n",
    "echo_score",
    "judge_preset",
    "label",
    "label_all",
    "label_counts",
    "likelihood_measures",
    "measure_degeneracy",
    "repeated_ngram_fraction",
    "settled_label",
]
