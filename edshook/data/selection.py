"""One way to say which prompts to run: a part of the standard splits, named sets, a limit and a seed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from edshook.data.prompts import PromptSet
from edshook.data.registry import load_set
from edshook.data.splits import TEST_ONLY, standard_role, standard_splits
from edshook.errors import DataError

__all__ = ["BENCHMARK_SOURCES", "JAILBREAK_SOURCES", "VALIDATION_SOURCES", "Part", "part_name", "select_prompts"]

Part = Literal["train", "val", "test"]

BENCHMARK_SOURCES = ("or_bench_hard", "jbb_benign", "or_bench_toxic", "jbb_harmful", "harmbench_test")
"""The held-out sets of the headline comparison (their test parts): benign first, then harmful."""

JAILBREAK_SOURCES = ("jbb_pair", "jbb_random_search", "jbb_jbc", "jbb_gcg_transfer")
"""JailbreakBench attack prompts (against GPT-3.5) for the JBB harmful goals: test-only robustness sets."""

VALIDATION_SOURCES = ("or_bench_hard", "or_bench_80k_retain", "refusal_harmless_train", "or_bench_toxic", "advbench")
"""The sets whose validation parts choose settings such as the probe threshold (never the test parts):
benign-but-scary (OR-Bench-Hard, OR-Bench-80K), plain harmless (Alpaca), then harmful."""


def part_name(source: str, part: Part) -> str:
    """The name of ``source``'s prompts in ``part``: ``or_bench_hard_test``, or ``jbb_benign`` for a test-only set.

    Examples:
        >>> part_name("or_bench_hard", "val"), part_name("jbb_harmful", "test")
        ('or_bench_hard_val', 'jbb_harmful')
    """
    return source if source in TEST_ONLY and part == "test" else f"{source}_{part}"


def select_prompts(
    *,
    split: Part | None = None,
    sets: Sequence[str] = (),
    limit: int | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, PromptSet]:
    """Named prompt sets, each sampled to ``limit`` prompts by id hash.

    - ``split`` alone: every source's prompts in that part of the standard splits, one set each;
    - ``sets`` alone: those registered sets, whole;
    - both: those sets' prompts in that part (an error for a set with no prompts there). The attack
      sets (:data:`JAILBREAK_SOURCES`) are test-only and outside the standard test part: with
      ``split="test"`` they come whole.

    Examples:
        >>> select_prompts(split="val", sets=VALIDATION_SOURCES, limit=40)  # doctest: +SKIP
        {'or_bench_hard_val': PromptSet(...), 'or_bench_toxic_val': ..., 'advbench_val': ...}
    """
    if split is None and not sets:
        raise DataError("Choose prompts: a split (train, val or test), set names, or both.")
    if limit is not None and limit < 1:
        raise DataError(f"limit must be at least 1 prompt per set, got {limit}.")
    if split is None:
        chosen = {name: load_set(name, data_dir) for name in sets}
    else:
        part = standard_splits(data_dir, seed=seed)[split]
        sources = tuple(sets) or tuple(dict.fromkeys(p.source for p in part))
        chosen = {}
        for source in sources:
            prompts = PromptSet(part_name(source, split), tuple(p for p in part if p.source == source))
            if not prompts and split == "test" and source in TEST_ONLY:
                prompts = load_set(source, data_dir)
            if not prompts:
                why = {
                    "test-only": "it is test-only",
                    "training pool 80/20": "it is a training pool: train and val only",
                }.get(standard_role(source), "it is not in the standard splits")
                raise DataError(
                    f"{source} has no prompts in the {split} part ({why}). Fix: choose another split or set."
                )
            chosen[prompts.name] = prompts
    return {name: s.sample(limit, seed) if limit is not None else s for name, s in chosen.items()}
