"""The data catalog and the `edshook data` command, on the fixture folder and on folders missing sets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edshook.cli import app
from edshook.data import DATA_ENV, SETS, data_catalog, format_catalog
from edshook.errors import DataError

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_every_registered_set_is_listed_in_registry_order() -> None:
    catalog = data_catalog(DATA)
    assert [entry.name for entry in catalog] == list(SETS)
    assert catalog.data_dir == DATA and catalog.missing == ()


def test_entry_facts_come_from_the_registry() -> None:
    pair = data_catalog(DATA)["jbb_pair"]
    assert (pair.kind, pair.role, pair.found) == ("harmful", "test-only", True)
    assert pair.path == DATA / "jailbreakbench_artifacts" / "PAIR" / "black_box" / "gpt-3.5-turbo-1106.json"
    assert pair.files == ("jailbreakbench_artifacts/PAIR/black_box/gpt-3.5-turbo-1106.json",)
    assert pair.layout == "JSON: text prompt, id index, category category, rows filtered on prompt"
    assert pair.origin == "GitHub JailbreakBench/artifacts, attack-artifacts/PAIR/black_box/gpt-3.5-turbo-1106.json"
    hard = data_catalog(DATA)["or_bench_hard"]
    assert (hard.kind, hard.role, hard.layout) == (
        "benign",
        "split 60/20/20",
        "CSV: text Goal|prompt, category category",
    )


def test_missing_sets_have_no_path(tmp_path: Path) -> None:
    data = Path(shutil.copytree(DATA, tmp_path / "data"))
    shutil.rmtree(data / "jailbreakbench_artifacts")
    (data / "PHTest.json").rename(data / "phTEST.json")
    catalog = data_catalog(data)
    assert [entry.name for entry in catalog.missing] == ["jbb_pair", "jbb_random_search", "jbb_jbc", "jbb_gcg_transfer"]
    assert catalog["phtest"].path == data / "phTEST.json"
    assert not catalog["jbb_jbc"].found


def test_catalog_of_an_empty_folder_and_of_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(data_catalog(tmp_path).missing) == len(SETS)
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_catalog().data_dir == tmp_path
    monkeypatch.delenv(DATA_ENV)
    with pytest.raises(DataError, match="no data folder"):
        data_catalog()
    with pytest.raises(DataError, match="unknown prompt set 'nope'"):
        data_catalog(tmp_path)["nope"]


def test_format_lists_found_files_then_what_is_missing(tmp_path: Path) -> None:
    data = Path(shutil.copytree(DATA, tmp_path / "data"))
    (data / "xstest_v2_prompts.csv").unlink()
    text = format_catalog(data_catalog(data))
    lines = text.splitlines()
    assert lines[0] == f"data folder: {data} ({len(SETS) - 2} of {len(SETS)} sets found)"
    assert lines[2].split() == ["set", "kind", "role", "file"]
    assert lines[3].split() == ["or_bench_hard", "benign", "split", "60/20/20", "or_bench/or_bench_hard_1k.csv"]
    assert ["xstest_safe", "benign", "user-supplied", "missing"] in [line.split() for line in lines]
    assert "  xstest_unsafe: xstest_v2_prompts.csv, xstest_prompts.csv, xstest/xstest_v2_prompts.csv" in text
    assert "    source: GitHub paul-rottger/exaggerated-safety" in text


def test_data_command_prints_the_catalog() -> None:
    result = CliRunner().invoke(app, ["data", "--data-dir", str(DATA)])
    assert result.exit_code == 0, result.output
    assert result.output == format_catalog(data_catalog(DATA)) + "\n"


def test_data_command_explains_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["data"])
    assert result.exit_code == 2 and "no data folder" in result.output
    result = CliRunner().invoke(app, ["data", "--data-dir", "absent"])
    assert result.exit_code == 2 and "does not exist" in result.output
