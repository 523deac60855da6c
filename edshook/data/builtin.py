"""The table of known prompt sets: where each file lives and how to read it.

Paths are relative to the data folder. Registered sets have one file each; sets users bring
themselves (``user=True``) accept any of a few file names, tried in order:

- ``xstest_safe`` / ``xstest_unsafe``: ``xstest_v2_prompts.csv`` or ``xstest_prompts.csv``, at the
  top or in ``xstest/``. Unsafe rows are those whose ``type`` starts with ``contrast``.
- ``oktest``: ``OKTest.json`` (top or ``oktest/``).
- ``phtest``: ``PHTest.json`` (top or ``phtest/``), else ``PHTest.csv`` with a ``prompt`` column.
  Every PHTest prompt counts as benign, including those its authors mark controversial.

File and folder names match whatever their letter case on disk (``PHtest.json`` is found for
``PHTest.json``).

The jailbreak sets (``jbb_pair``, ``jbb_random_search``, ``jbb_jbc``, ``jbb_gcg_transfer``) are the
attack prompts JailbreakBench published against GPT-3.5 (``gpt-3.5-turbo-1106``) for its 100
harmful behaviours; rows where the attack found no prompt are skipped, and ids are the
behaviour's ``index``, so ``jbb_pair:7`` attacks the same behaviour as ``jbb_harmful:0007``.

JSON files are a list of records, ``{"data": [{"messages": [{"role": "user", "content": ...}]}]}``
(a messages row reads as the record ``{"prompt": <first user content>, ...other keys}``), or
``{"jailbreaks": [records]}`` (JailbreakBench artifacts; other top-level keys are ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BUILTIN_SETS", "Keep", "SetSpec"]


@dataclass(frozen=True)
class Keep:
    """A row filter: keep rows whose ``column`` value passes ``test``.

    Examples:
        >>> Keep("FunctionalCategory", lambda v: v == "standard").test("standard")
        True
    """

    column: str
    test: Callable[[str], bool]


@dataclass(frozen=True)
class SetSpec:
    """How to load one named set.

    Attributes:
        name: Registry name.
        files: Relative paths tried in order, in any letter case; the first that exists is read.
        text_columns: Candidate text columns; the first present is used.
        harmful: Ground truth for every prompt of the set.
        origin: Where to get the file, shown when it is missing.
        id_columns: Candidate source-id columns; the row index (``0042``) when none is present.
        category_column: Column holding a category, if any.
        keep: Optional row filter.
        id_prefix: Id namespace; sets cut from one source share it so equal prompts share ids.
        user: True for sets the user supplies (not shipped with the benchmark folder).
    """

    name: str
    files: tuple[str, ...]
    text_columns: tuple[str, ...]
    harmful: bool
    origin: str
    id_columns: tuple[str, ...] = ()
    category_column: str | None = None
    keep: Keep | None = None
    id_prefix: str | None = None
    user: bool = False

    @property
    def prefix(self) -> str:
        """The id namespace: ``id_prefix`` or the set name."""
        return self.id_prefix or self.name


def _standard(value: str) -> bool:
    return value.strip() == "standard"


def _contrast(value: str) -> bool:
    return value.strip().startswith("contrast")


def _not_contrast(value: str) -> bool:
    return not _contrast(value)


def _has_text(value: str) -> bool:
    return bool(value.strip())


_OR_BENCH = "Hugging Face dataset bench-llm/or-bench, config {}; save as CSV with column prompt or Goal"
_X_BOUNDARY = "GitHub AI45Lab/X-Boundary, {}"
_JBB = "Hugging Face dataset JailbreakBench/JBB-Behaviors, {}"
_HARMBENCH = "GitHub centerforaisafety/HarmBench, data/behavior_datasets/{}"
_ARDITI = "GitHub andyrdt/refusal_direction, dataset/{}"
_JBB_ARTIFACTS = "GitHub JailbreakBench/artifacts, attack-artifacts/{}"
_JAILBREAK_TARGET = "gpt-3.5-turbo-1106.json"
_XSTEST_FILES = tuple(
    f"{folder}{stem}.csv" for folder in ("", "xstest/") for stem in ("xstest_v2_prompts", "xstest_prompts")
)
_XSTEST_ORIGIN = "GitHub paul-rottger/exaggerated-safety (xstest_v2_prompts.csv or xstest_prompts.csv)"


def _harmbench(name: str, file: str) -> SetSpec:
    return SetSpec(
        name,
        (f"harmbench/{file}",),
        ("Behavior",),
        True,
        _HARMBENCH.format(file),
        id_columns=("BehaviorID",),
        category_column="SemanticCategory",
        keep=Keep("FunctionalCategory", _standard),
        id_prefix="harmbench",
    )


def _arditi(name: str, file: str, harmful: bool) -> SetSpec:
    return SetSpec(
        name,
        (f"refusal_direction/{file}",),
        ("instruction",),
        harmful,
        _ARDITI.format(file),
        category_column="category",
    )


def _jailbreaks(name: str, method_folder: str) -> SetSpec:
    file = f"{method_folder}/{_JAILBREAK_TARGET}"
    return SetSpec(
        name,
        (f"jailbreakbench_artifacts/{file}",),
        ("prompt",),
        True,
        _JBB_ARTIFACTS.format(file),
        id_columns=("index",),
        category_column="category",
        keep=Keep("prompt", _has_text),
    )


def _json_names(folder: str, stem: str) -> tuple[str, ...]:
    return (f"{stem}.json", f"{folder}/{stem}.json")


BUILTIN_SETS: tuple[SetSpec, ...] = (
    SetSpec(
        "or_bench_hard",
        ("or_bench/or_bench_hard_1k.csv",),
        ("Goal", "prompt"),
        False,
        _OR_BENCH.format("or-bench-hard-1k"),
        category_column="category",
    ),
    SetSpec(
        "or_bench_toxic",
        ("or_bench/or_bench_toxic.csv",),
        ("Goal", "prompt"),
        True,
        _OR_BENCH.format("or-bench-toxic"),
        category_column="category",
    ),
    SetSpec(
        "or_bench_80k_retain",
        ("or_bench_80k_subsets/ORbench_retain_set.json",),
        ("prompt",),
        False,
        _X_BOUNDARY.format("data/train/ORbench_retain_set.json"),
        id_columns=("prompt_id",),
    ),
    SetSpec(
        "or_bench_80k_test",
        ("or_bench_80k_subsets/ORbench_test_300.json",),
        ("prompt",),
        False,
        _X_BOUNDARY.format("data/test/ORbench_test_300.json"),
        category_column="behavior",
    ),
    SetSpec(
        "jbb_harmful",
        ("jailbreakbench/behaviors.csv",),
        ("Goal",),
        True,
        "GitHub JailbreakBench/jailbreakbench, src/jailbreakbench/data/behaviors.csv",
        category_column="Category",
    ),
    SetSpec(
        "jbb_benign",
        ("jailbreakbench/benign-behaviors.csv",),
        ("goal", "Goal"),
        False,
        _JBB.format("data/benign-behaviors.csv"),
        category_column="category",
    ),
    _jailbreaks("jbb_pair", "PAIR/black_box"),
    _jailbreaks("jbb_random_search", "prompt_with_random_search/black_box"),
    _jailbreaks("jbb_jbc", "JBC/manual"),
    _jailbreaks("jbb_gcg_transfer", "GCG/transfer"),
    _harmbench("harmbench", "harmbench_behaviors_text_all.csv"),
    _harmbench("harmbench_val", "harmbench_behaviors_text_val.csv"),
    _harmbench("harmbench_test", "harmbench_behaviors_text_test.csv"),
    SetSpec(
        "advbench",
        ("advbench/harmful_behaviors.csv",),
        ("goal",),
        True,
        "GitHub llm-attacks/llm-attacks, data/advbench/harmful_behaviors.csv",
    ),
    SetSpec(
        "strongreject",
        ("strongreject/strongreject_dataset.csv",),
        ("forbidden_prompt",),
        True,
        "GitHub alexandrasouly/strongreject, strongreject_dataset/strongreject_dataset.csv",
        category_column="category",
    ),
    _arditi("refusal_harmful_train", "splits/harmful_train.json", True),
    _arditi("refusal_harmful_val", "splits/harmful_val.json", True),
    _arditi("refusal_harmful_test", "splits/harmful_test.json", True),
    _arditi("refusal_harmless_train", "splits/harmless_train.json", False),
    _arditi("refusal_harmless_val", "splits/harmless_val.json", False),
    _arditi("refusal_harmless_test", "splits/harmless_test.json", False),
    _arditi("alpaca", "processed/alpaca.json", False),
    SetSpec(
        "xstest_safe",
        _XSTEST_FILES,
        ("prompt",),
        False,
        _XSTEST_ORIGIN,
        id_columns=("id_v2", "id"),
        category_column="type",
        keep=Keep("type", _not_contrast),
        id_prefix="xstest",
        user=True,
    ),
    SetSpec(
        "xstest_unsafe",
        _XSTEST_FILES,
        ("prompt",),
        True,
        _XSTEST_ORIGIN,
        id_columns=("id_v2", "id"),
        category_column="type",
        keep=Keep("type", _contrast),
        id_prefix="xstest",
        user=True,
    ),
    SetSpec(
        "oktest",
        _json_names("oktest", "OKTest"),
        ("prompt",),
        False,
        "OKTest (Shi et al. 2024, 'Navigating the OverKill in Large Language Models')",
        category_column="behavior",
        user=True,
    ),
    SetSpec(
        "phtest",
        (*_json_names("phtest", "PHTest"), "PHTest.csv", "phtest/PHTest.csv"),
        ("prompt",),
        False,
        "Hugging Face dataset furonghuang-lab/PHTest (PHTest.csv)",
        category_column="behavior",
        user=True,
    ),
)
