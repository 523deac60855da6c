"""De-duplication, seeded splits and disjointness checks for prompt sets.

Standard layout (:func:`standard_splits`), used for training and benchmarking:

- ``or_bench_hard`` (benign) and ``or_bench_toxic`` (harmful) are each split 60/20/20 into
  train/val/test by id hash.
- ``jbb_harmful``, ``jbb_benign`` and ``harmbench_test`` are test-only: the test part holds them whole.
- The jailbreak prompts built on the JBB behaviours (``jbb_pair``, ``jbb_random_search``,
  ``jbb_jbc``, ``jbb_gcg_transfer``) are test-only too, read by name; they are not in the test
  part, so a data folder without them still splits. No normalised text of theirs equals a train
  or val text (a test checks it on the published files).
- Training pools, split 80/20 into train/val by id hash: ``or_bench_80k_retain``,
  ``or_bench_80k_test`` (benign), ``advbench``, ``refusal_harmful_train`` (harmful) and
  ``harmless_cap`` (default 1000) prompts of ``refusal_harmless_train`` (Alpaca, benign), taken
  by id hash from each part after the split, so the cap never moves a prompt between parts.
- De-duplication runs over test, then val, then train, by normalised text: a text kept in test is
  dropped from val and train, and one kept in val from train (AdvBench and HarmBench share
  prompts with JBB; the OR-Bench-80K subsets share 15 with Hard-1K). Texts with both labels are
  dropped everywhere. Sizes are close to, not exactly, the fractions: hashing trades exact sizes
  for stability when sets grow.
- Every other registered set is loaded by name only; :func:`standard_role` says which case a set is.
"""

from __future__ import annotations

import os
import string
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Literal

from edshook.data.prompts import Prompt, PromptSet, id_hash
from edshook.data.registry import SETS, load_set
from edshook.errors import DataError

__all__ = [
    "DEFAULT_FRACTIONS",
    "TEST_ONLY",
    "Role",
    "assert_disjoint",
    "check_disjoint",
    "deduplicate",
    "normalise",
    "split",
    "standard_role",
    "standard_splits",
]

Role = Literal["split 60/20/20", "training pool 80/20", "test-only", "user-supplied", "by name only"]

DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.6, "val": 0.2, "test": 0.2}
_POOL_FRACTIONS: Mapping[str, float] = {"train": 0.8, "val": 0.2}
_SPLIT = ("or_bench_hard", "or_bench_toxic")
_POOLS = ("or_bench_80k_retain", "or_bench_80k_test", "advbench", "refusal_harmful_train")
_CAPPED_POOL = "refusal_harmless_train"
_TEST_PART = ("jbb_harmful", "jbb_benign", "harmbench_test")
_ATTACKS = ("jbb_pair", "jbb_random_search", "jbb_jbc", "jbb_gcg_transfer")
TEST_ONLY = (*_TEST_PART, *_ATTACKS)
"""Sets used only for testing, never trained or tuned on. The attack sets (JailbreakBench prompts
built around the JBB harmful goals) are read by name and are not part of the standard test part,
so a data folder without them still splits."""
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
_EDGE = set(string.punctuation + string.whitespace)


def normalise(text: str) -> str:
    """A comparison key for de-duplication: casefolded, one space between words, no edge punctuation.

    Examples:
        >>> normalise("  How do I  bake BREAD?! ")
        'how do i bake bread'
    """
    folded = " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold().split())
    start, end = 0, len(folded)
    while start < end and (folded[start] in _EDGE or unicodedata.category(folded[start]).startswith("P")):
        start += 1
    while end > start and (folded[end - 1] in _EDGE or unicodedata.category(folded[end - 1]).startswith("P")):
        end -= 1
    return folded[start:end]


def deduplicate(sets: Sequence[PromptSet]) -> list[PromptSet]:
    """Keep only the first prompt of each normalised text, scanning sets in the order given.

    A text found with both labels (harmful in one place, benign in another) is dropped from every
    set: its ground truth is ambiguous, and either copy would put label noise into training or
    into the benchmark. Sets keep their names and may come back empty.

    Examples:
        >>> a = PromptSet("a", (Prompt("a:0", "Hi!", False, "a"),))
        >>> b = PromptSet("b", (Prompt("b:0", "hi", False, "b"),))
        >>> [len(s) for s in deduplicate([a, b])]
        [1, 0]
    """
    labels: dict[str, set[bool]] = defaultdict(set)
    for prompt_set in sets:
        for prompt in prompt_set:
            labels[normalise(prompt.text)].add(prompt.harmful)
    seen: set[str] = set()
    result = []
    for prompt_set in sets:
        kept = []
        for prompt in prompt_set:
            key = normalise(prompt.text)
            if key not in seen and len(labels[key]) == 1:
                kept.append(prompt)
            seen.add(key)
        result.append(PromptSet(prompt_set.name, tuple(kept)))
    return result


def split(
    prompt_set: PromptSet, fractions: Mapping[str, float] = DEFAULT_FRACTIONS, seed: int = 0
) -> dict[str, PromptSet]:
    """Split by hashing each id with the seed, so adding prompts never moves the others.

    Parts are named ``"<set>/<part>"`` and keep set order.

    Examples:
        >>> s = PromptSet("toy", tuple(Prompt(f"toy:{i}", f"q{i}", False, "toy") for i in range(50)))
        >>> sum(len(part) for part in split(s, seed=1).values())
        50
    """
    names, edges = _edges(fractions)
    parts: dict[str, list[Prompt]] = {name: [] for name in names}
    for prompt in prompt_set:
        value = id_hash(seed, prompt.id)
        name = next((n for n, edge in zip(names, edges, strict=True) if value < edge), names[-1])
        parts[name].append(prompt)
    return {name: PromptSet(f"{prompt_set.name}/{name}", tuple(items)) for name, items in parts.items()}


def _edges(fractions: Mapping[str, float]) -> tuple[list[str], list[float]]:
    if not fractions or any(f < 0 for f in fractions.values()):
        raise ValueError(f"fractions must be a non-empty mapping of non-negative numbers, got {fractions}")
    if abs(sum(fractions.values()) - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {sum(fractions.values())}")
    edges, total = [], 0.0
    for fraction in fractions.values():
        total += fraction
        edges.append(total)
    return list(fractions), edges


def check_disjoint(a: PromptSet, b: PromptSet) -> None:
    """Raise :class:`DataError` if ``a`` and ``b`` share an id or a normalised text.

    Examples:
        >>> a = PromptSet("a", (Prompt("x:0", "Hi", False, "a"),))
        >>> check_disjoint(a, PromptSet("b", ()))
    """
    shared_ids = sorted(set(a.ids) & set(b.ids))
    texts_b = {normalise(t) for t in b.texts}
    shared_texts = sorted({normalise(t) for t in a.texts} & texts_b)
    if shared_ids or shared_texts:
        raise DataError(
            f"{a.name!r} and {b.name!r} overlap: {len(shared_ids)} ids {shared_ids[:5]}, "
            f"{len(shared_texts)} normalised texts {shared_texts[:3]}"
        )


def assert_disjoint(*sets: PromptSet) -> None:
    """Raise :class:`DataError` unless every pair of ``sets`` is disjoint by id and by text.

    Examples:
        >>> assert_disjoint(PromptSet("a", ()), PromptSet("b", ()), PromptSet("c", ()))
    """
    for a, b in combinations(sets, 2):
        check_disjoint(a, b)


def standard_splits(
    data_dir: str | os.PathLike[str] | None = None, seed: int = 0, harmless_cap: int | None = 1000
) -> dict[str, PromptSet]:
    """The standard ``train`` / ``val`` / ``test`` sets described in the module docstring.

    ``harmless_cap`` limits the Alpaca prompts taken into the pools (``None`` takes all 18,793),
    so generic instructions do not swamp the over-refusal prompts.

    Examples:
        >>> parts = standard_splits("/data")  # doctest: +SKIP
        >>> sorted(parts)  # doctest: +SKIP
        ['test', 'train', 'val']
    """

    def load(name: str) -> PromptSet:
        return load_set(name, data_dir)

    hard, toxic = (split(load(name), seed=seed) for name in _SPLIT)
    pools = [split(load(name), _POOL_FRACTIONS, seed) for name in (*_POOLS, _CAPPED_POOL)]
    if harmless_cap is not None:
        pools[-1] = {part: s.sample(round(harmless_cap * _POOL_FRACTIONS[part]), seed) for part, s in pools[-1].items()}
    parts = {
        "test": [hard["test"], toxic["test"], *map(load, _TEST_PART)],
        "val": [hard["val"], toxic["val"], *(pool["val"] for pool in pools)],
        "train": [hard["train"], toxic["train"], *(pool["train"] for pool in pools)],
    }
    kept = iter(deduplicate([s for sets in parts.values() for s in sets]))
    result = {name: PromptSet.concat(name, [next(kept) for _ in sets]) for name, sets in parts.items()}
    assert_disjoint(*result.values())
    return {name: result[name] for name in ("train", "val", "test")}


def standard_role(name: str) -> Role:
    """What :func:`standard_splits` does with the registered set ``name``.

    Examples:
        >>> standard_role("or_bench_hard"), standard_role("jbb_pair"), standard_role("phtest")
        ('split 60/20/20', 'test-only', 'user-supplied')
    """
    if name not in SETS:
        raise DataError(f"unknown prompt set {name!r}; known sets: {', '.join(SETS)}")
    if name in _SPLIT:
        return "split 60/20/20"
    if name in (*_POOLS, _CAPPED_POOL):
        return "training pool 80/20"
    if name in TEST_ONLY:
        return "test-only"
    return "user-supplied" if SETS[name].user else "by name only"
