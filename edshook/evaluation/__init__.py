"""Evaluation: methods, judges of answers, rates with intervals, comparisons, threshold tuning, reports and plots."""

from edshook.evaluation.bands import ThresholdTuning, band_stability, choose_thresholds
from edshook.evaluation.compare import Comparison, compare, comparison_methods, harmless_capability
from edshook.evaluation.directions import (
    Directions,
    RefusalDirection,
    fit_directions,
    refusal_score,
    select_refusal_direction,
)
from edshook.evaluation.harness import AnswerRecord, Capability, MethodResult, SetResult, evaluate, set_kind
from edshook.evaluation.methods import (
    HELPFUL_SYSTEM_PROMPT,
    Method,
    Sweep,
    SweepGrids,
    baseline_methods,
    conditional_methods,
    eds_methods,
)
from edshook.evaluation.metrics import Rate, kl_divergence, perplexity, wilson_interval
from edshook.evaluation.plots import plot_report, plot_tradeoff
from edshook.evaluation.reports import (
    all_answers,
    answers_path,
    markdown_details,
    markdown_table,
    read_answers,
    safe_summary,
    write_answers,
    write_report,
)
from edshook.evaluation.tuning import tune_thresholds

__all__ = [
    "HELPFUL_SYSTEM_PROMPT",
    "AnswerRecord",
    "Capability",
    "Comparison",
    "Directions",
    "Method",
    "MethodResult",
    "Rate",
    "RefusalDirection",
    "SetResult",
    "Sweep",
    "SweepGrids",
    "ThresholdTuning",
    "all_answers",
    "answers_path",
    "band_stability",
    "baseline_methods",
    "choose_thresholds",
    "compare",
    "comparison_methods",
    "conditional_methods",
    "eds_methods",
    "evaluate",
    "fit_directions",
    "harmless_capability",
    "kl_divergence",
    "markdown_details",
    "markdown_table",
    "perplexity",
    "plot_report",
    "plot_tradeoff",
    "read_answers",
    "refusal_score",
    "safe_summary",
    "select_refusal_direction",
    "set_kind",
    "tune_thresholds",
    "wilson_interval",
    "write_answers",
    "write_report",
]
