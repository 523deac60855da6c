"""Evaluation: methods, rates with intervals, capability checks, reports and plots."""

from edshook.evaluation.harness import Capability, MethodResult, evaluate, markdown_table, set_kind, write_report
from edshook.evaluation.methods import HELPFUL_SYSTEM_PROMPT, Method
from edshook.evaluation.metrics import Rate, rate, wilson_interval
from edshook.evaluation.plots import plot_tradeoff

__all__ = [
    "HELPFUL_SYSTEM_PROMPT",
    "Capability",
    "Method",
    "MethodResult",
    "Rate",
    "evaluate",
    "markdown_table",
    "plot_tradeoff",
    "rate",
    "set_kind",
    "wilson_interval",
    "write_report",
]
