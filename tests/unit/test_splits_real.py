"""Checks on the real benchmark folder: every registered set loads, and standard splits do not leak.

The folder is $EDSHOOK_DATA, else ../shared/data next to the repository; the tests skip without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from edshook.data import PromptSet, available_sets, load_set, normalise, split, standard_splits

DATA = Path(os.environ.get("EDSHOOK_DATA") or Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
pytestmark = pytest.mark.skipif(
    not (DATA / "or_bench" / "or_bench_hard_1k.csv").is_file(),
    reason=f"benchmark data folder not found at {DATA} (set EDSHOOK_DATA to run these tests)",
)

EXPECTED_SIZES = {
    "or_bench_hard": 1319,
    "or_bench_toxic": 655,
    "or_bench_80k_retain": 542,
    "or_bench_80k_test": 300,
    "jbb_harmful": 100,
    "jbb_benign": 100,
    "jbb_pair": 87,
    "jbb_random_search": 100,
    "jbb_jbc": 100,
    "jbb_gcg_transfer": 100,
    "harmbench": 200,
    "harmbench_val": 41,
    "harmbench_test": 159,
    "advbench": 520,
    "strongreject": 313,
    "refusal_harmful_train": 260,
    "refusal_harmful_val": 39,
    "refusal_harmful_test": 572,
    "refusal_harmless_train": 18793,
    "refusal_harmless_val": 6264,
    "refusal_harmless_test": 6266,
    "alpaca": 31323,
}
JAILBREAK_FILES = {
    "jbb_pair": "PAIR/black_box/gpt-3.5-turbo-1106.json",
    "jbb_random_search": "prompt_with_random_search/black_box/gpt-3.5-turbo-1106.json",
    "jbb_jbc": "JBC/manual/gpt-3.5-turbo-1106.json",
    "jbb_gcg_transfer": "GCG/transfer/gpt-3.5-turbo-1106.json",
}
JAILBREAK_SETS = tuple(JAILBREAK_FILES)
TEST_ONLY = ("jbb_harmful", "jbb_benign", "harmbench_test", *JAILBREAK_SETS)
# SHA-256 of the train and val ids (one per line, in order) for seed 0: pinned so that a change to
# the test-only sets, or any other change, cannot move a training prompt unnoticed.
TRAINING_IDS_SHA256 = {
    "train": (3182, "50d68a645c7286a8c52c81909e73d5a2b8cf765a47f349cc653fd7a9c6c9c094"),
    "val": (900, "bd5e31b024f3c70546d62d69221fe6e75b5345690b2fe1408f27dd3eace64636"),
}


@pytest.fixture(scope="module")
def all_sets() -> dict[str, PromptSet]:
    return {name: load_set(name, DATA) for name in available_sets(include_user=False)}


@pytest.fixture(scope="module")
def parts() -> dict[str, PromptSet]:
    return standard_splits(DATA, seed=0)


def test_every_registered_set_loads_with_known_size(all_sets: dict[str, PromptSet]) -> None:
    assert {name: len(s) for name, s in all_sets.items()} == EXPECTED_SIZES


def test_ids_unique_and_texts_non_empty(all_sets: dict[str, PromptSet]) -> None:
    for name, prompt_set in all_sets.items():
        assert len(set(prompt_set.ids)) == len(prompt_set), name
        assert all(p.text.strip() and normalise(p.text) for p in prompt_set), name
        assert all(p.source == name for p in prompt_set), name


def test_no_text_carries_both_labels(all_sets: dict[str, PromptSet]) -> None:
    labels: dict[str, set[bool]] = defaultdict(set)
    for prompt_set in all_sets.values():
        for prompt in prompt_set:
            labels[normalise(prompt.text)].add(prompt.harmful)
    assert [text for text, seen in labels.items() if len(seen) > 1] == []


def test_standard_parts_disjoint_by_id_and_text(parts: dict[str, PromptSet]) -> None:
    assert list(parts) == ["train", "val", "test"]
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(parts[a].ids) & set(parts[b].ids), (a, b)
        texts_a = {normalise(t) for t in parts[a].texts}
        assert not texts_a & {normalise(t) for t in parts[b].texts}, (a, b)
    for prompt_set in parts.values():
        keys = [normalise(t) for t in prompt_set.texts]
        assert len(keys) == len(set(keys)), prompt_set.name


def test_every_registered_text_lands_in_at_most_one_part(
    all_sets: dict[str, PromptSet], parts: dict[str, PromptSet]
) -> None:
    where: dict[str, set[str]] = defaultdict(set)
    for part, prompt_set in parts.items():
        for text in prompt_set.texts:
            where[normalise(text)].add(part)
    for name, prompt_set in all_sets.items():
        spread = [t for t in prompt_set.texts if len(where.get(normalise(t), ())) > 1]
        assert spread == [], name


def test_known_cross_set_overlaps_stay_out_of_training(
    all_sets: dict[str, PromptSet], parts: dict[str, PromptSet]
) -> None:
    test_only = {normalise(t) for n in TEST_ONLY for t in all_sets[n].texts}
    shared_with_advbench = test_only & {normalise(t) for t in all_sets["advbench"].texts}
    assert len(shared_with_advbench) >= 10
    training = {normalise(t) for n in ("train", "val") for t in parts[n].texts}
    assert not training & test_only
    in_test_part = {normalise(t) for n in TEST_ONLY if n not in JAILBREAK_SETS for t in all_sets[n].texts}
    assert in_test_part <= {normalise(t) for t in parts["test"].texts}


def test_test_only_sets_are_fully_in_test(parts: dict[str, PromptSet]) -> None:
    sources = [p.source for p in parts["test"]]
    assert sources.count("jbb_harmful") == 100 and sources.count("jbb_benign") == 100
    assert 140 <= sources.count("harmbench_test") <= 159
    assert not set(JAILBREAK_SETS) & set(sources), "attack sets are read by name, not through the test part"
    training_sources = {p.source for n in ("train", "val") for p in parts[n]}
    assert not training_sources & set(TEST_ONLY)


def test_or_bench_test_parts_never_train(all_sets: dict[str, PromptSet], parts: dict[str, PromptSet]) -> None:
    training_ids = set(parts["train"].ids) | set(parts["val"].ids)
    for name in ("or_bench_hard", "or_bench_toxic"):
        held_out = split(all_sets[name], seed=0)["test"]
        assert len(held_out) > 0.15 * len(all_sets[name])
        assert not set(held_out.ids) & training_ids
        assert set(held_out.ids) <= set(parts["test"].ids)


def test_jailbreak_sets_follow_the_published_rows(all_sets: dict[str, PromptSet]) -> None:
    behaviour_category = {int(p.id.split(":")[1]): p.category for p in all_sets["jbb_harmful"]}
    for name, file in JAILBREAK_FILES.items():
        published = json.loads((DATA / "jailbreakbench_artifacts" / file).read_text(encoding="utf-8"))
        with_prompt = [row for row in published["jailbreaks"] if row["prompt"] is not None]
        assert all_sets[name].ids == tuple(f"{name}:{row['index']}" for row in with_prompt)
        assert all(p.category == behaviour_category[int(p.id.split(":")[1])] for p in all_sets[name]), name


def test_training_parts_are_pinned(parts: dict[str, PromptSet]) -> None:
    for name, (size, digest) in TRAINING_IDS_SHA256.items():
        ids = parts[name].ids
        assert (len(ids), hashlib.sha256("\n".join(ids).encode()).hexdigest()) == (size, digest), name


def test_standard_splits_reproducible(parts: dict[str, PromptSet]) -> None:
    again = standard_splits(DATA, seed=0)
    assert {k: v.ids for k, v in again.items()} == {k: v.ids for k, v in parts.items()}
    assert both_labels(parts["train"]) and both_labels(parts["val"]) and both_labels(parts["test"])


def both_labels(prompt_set: PromptSet) -> bool:
    return {p.harmful for p in prompt_set} == {True, False}
