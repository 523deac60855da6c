"""Named benchmark prompt sets with stable ids, and leak-free splits of them.

Examples:
    >>> from edshook.data import load_set, standard_splits
    >>> hard = load_set("or_bench_hard", "/data")  # doctest: +SKIP
    >>> parts = standard_splits("/data", seed=0)  # doctest: +SKIP
"""

from edshook.data.builtin import BUILTIN_SETS, Keep, SetSpec
from edshook.data.catalog import Catalog, CatalogEntry, data_catalog, describe_layout, format_catalog
from edshook.data.prompts import Prompt, PromptSet, id_hash
from edshook.data.registry import DATA_ENV, SETS, available_sets, find_set_file, load_set, resolve_data_dir
from edshook.data.selection import (
    BENCHMARK_SOURCES,
    JAILBREAK_SOURCES,
    VALIDATION_SOURCES,
    Part,
    part_name,
    select_prompts,
)
from edshook.data.splits import (
    DEFAULT_FRACTIONS,
    TEST_ONLY,
    Role,
    assert_disjoint,
    check_disjoint,
    deduplicate,
    normalise,
    split,
    standard_role,
    standard_splits,
)

__all__ = [
    "BENCHMARK_SOURCES",
    "BUILTIN_SETS",
    "DATA_ENV",
    "DEFAULT_FRACTIONS",
    "JAILBREAK_SOURCES",
    "SETS",
    "TEST_ONLY",
    "VALIDATION_SOURCES",
    "Catalog",
    "CatalogEntry",
    "Keep",
    "Part",
    "Prompt",
    "PromptSet",
    "Role",
    "SetSpec",
    "assert_disjoint",
    "available_sets",
    "check_disjoint",
    "data_catalog",
    "deduplicate",
    "describe_layout",
    "find_set_file",
    "format_catalog",
    "id_hash",
    "load_set",
    "normalise",
    "part_name",
    "resolve_data_dir",
    "select_prompts",
    "split",
    "standard_role",
    "standard_splits",
]
