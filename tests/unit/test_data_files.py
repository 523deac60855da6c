"""How set files are found and read: names in any letter case, encodings, JSON layouts, bad files,
the jailbreak artifacts."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edshook.data import SETS, find_set_file, load_set, standard_role
from edshook.errors import DataError

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
JAILBREAK_FOLDERS = {
    "jbb_pair": "PAIR/black_box",
    "jbb_random_search": "prompt_with_random_search/black_box",
    "jbb_jbc": "JBC/manual",
    "jbb_gcg_transfer": "GCG/transfer",
}


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DATA, tmp_path / "data"))


def test_file_name_in_another_case_is_found(data_copy: Path) -> None:
    (data_copy / "PHTest.json").rename(data_copy / "PHtest.json")
    assert find_set_file(SETS["phtest"], data_copy) == data_copy / "PHtest.json"
    assert load_set("phtest", data_copy).texts[0] == "PHTest prompt 0"


def test_folder_and_file_names_in_another_case_are_found(data_copy: Path) -> None:
    (data_copy / "or_bench").rename(data_copy / "OR_Bench")
    (data_copy / "OR_Bench" / "or_bench_hard_1k.csv").rename(data_copy / "OR_Bench" / "OR_BENCH_HARD_1K.CSV")
    assert len(load_set("or_bench_hard", data_copy)) == 30
    artifacts = data_copy / "jailbreakbench_artifacts"
    (artifacts / "PAIR").rename(artifacts / "pair")
    assert load_set("jbb_pair", data_copy).ids == ("jbb_pair:0", "jbb_pair:2")


def test_exact_name_wins_over_other_cases(data_copy: Path) -> None:
    (data_copy / "phtest.json").write_text(json.dumps([{"prompt": "lower-case file"}]), encoding="utf-8")
    if (data_copy / "phtest.json").samefile(data_copy / "PHTest.json"):
        pytest.skip("the file system ignores letter case")
    assert load_set("phtest", data_copy).texts[0] == "PHTest prompt 0"


def test_names_differing_only_in_case_are_ambiguous(data_copy: Path) -> None:
    folder = data_copy / "advbench"
    (folder / "harmful_behaviors.csv").rename(folder / "Harmful_Behaviors.csv")
    (folder / "HARMFUL_BEHAVIORS.csv").write_text("goal\nsomething else\n", encoding="utf-8")
    if len(list(folder.iterdir())) < 2:
        pytest.skip("the file system ignores letter case")
    with pytest.raises(DataError, match=r"HARMFUL_BEHAVIORS.csv, Harmful_Behaviors.csv differ only in letter case"):
        load_set("advbench", data_copy)


def test_missing_file_error_lists_every_name_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_set("phtest", tmp_path)
    message = str(error.value)
    for relative in ("PHTest.json", "phtest/PHTest.json", "PHTest.csv", "phtest/PHTest.csv"):
        assert str(tmp_path / relative) in message
    assert "in any letter case" in message and "furonghuang-lab/PHTest" in message


def test_jailbreak_sets_read_prompts_ids_and_categories() -> None:
    pair = load_set("jbb_pair", DATA)
    assert pair.ids == ("jbb_pair:0", "jbb_pair:2"), "the row without a prompt is skipped"
    assert pair.texts == ("PAIR role-play prompt 0", "PAIR role-play prompt 2")
    assert [p.category for p in pair] == ["Harassment/Discrimination", "Malware"]
    for name, folder in JAILBREAK_FOLDERS.items():
        assert SETS[name].files == (f"jailbreakbench_artifacts/{folder}/gpt-3.5-turbo-1106.json",)
        assert all(p.harmful and p.source == name for p in load_set(name, DATA))
        assert standard_role(name) == "test-only"


def test_jailbreak_file_layout_errors_name_the_layouts(data_copy: Path) -> None:
    path = data_copy / "jailbreakbench_artifacts" / "JBC" / "manual" / "gpt-3.5-turbo-1106.json"
    path.write_text(json.dumps({"parameters": {"method": "JBC"}}), encoding="utf-8")
    with pytest.raises(DataError, match=r"expected a list of records or one of \{'data': \[...\]\}, \{'jailbreaks'"):
        load_set("jbb_jbc", data_copy)
    path.write_text(json.dumps({"parameters": {}, "jailbreaks": [{"index": 0, "prompt": "p"}, "oops"]}))
    with pytest.raises(DataError, match=r"jailbreaks\[1\] is not a record \(a JSON object\), got str"):
        load_set("jbb_jbc", data_copy)


def test_list_items_must_be_records(data_copy: Path) -> None:
    (data_copy / "refusal_direction" / "processed" / "alpaca.json").write_text('[{"instruction": "a"}, 3]')
    with pytest.raises(DataError, match=r"item 1 is not a record \(a JSON object\), got int"):
        load_set("alpaca", data_copy)


def test_standard_role_of_every_kind_of_set() -> None:
    assert standard_role("or_bench_toxic") == "split 60/20/20"
    assert standard_role("refusal_harmless_train") == standard_role("advbench") == "training pool 80/20"
    assert standard_role("harmbench_test") == "test-only"
    assert standard_role("strongreject") == "by name only"
    assert standard_role("xstest_unsafe") == "user-supplied"
    with pytest.raises(DataError, match="unknown prompt set 'nope'"):
        standard_role("nope")


def test_missing_file_names_path_and_origin(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_set("or_bench_hard", tmp_path)
    assert str(tmp_path / "or_bench" / "or_bench_hard_1k.csv") in str(error.value)
    assert "bench-llm/or-bench" in str(error.value)
    with pytest.raises(DataError, match=r"xstest_v2_prompts.csv.*xstest/xstest_prompts.csv.*exaggerated"):
        load_set("xstest_unsafe", tmp_path)


def test_missing_column_names_it_and_columns_found(data_copy: Path) -> None:
    (data_copy / "advbench" / "harmful_behaviors.csv").write_text("prompt,target\nhello,Sure\n")
    with pytest.raises(DataError, match=r"missing text column 'goal'; columns found: \['prompt', 'target'\]"):
        load_set("advbench", data_copy)
    (data_copy / "harmbench" / "harmbench_behaviors_text_test.csv").write_text("Behavior,BehaviorID\nx,y\n")
    with pytest.raises(DataError, match="missing column 'FunctionalCategory'"):
        load_set("harmbench_test", data_copy)


def test_bad_bytes_empty_files_and_bad_json(data_copy: Path) -> None:
    (data_copy / "advbench" / "harmful_behaviors.csv").write_bytes(b"goal,target\n\xff\xfe bad,x\n")
    with pytest.raises(DataError, match="not valid UTF-8"):
        load_set("advbench", data_copy)
    (data_copy / "strongreject" / "strongreject_dataset.csv").write_text("category,source,forbidden_prompt\n")
    with pytest.raises(DataError, match=r"no prompts in .*strongreject_dataset.csv"):
        load_set("strongreject", data_copy)
    (data_copy / "refusal_direction" / "processed" / "alpaca.json").write_text("[{", encoding="utf-8")
    with pytest.raises(DataError, match=r"alpaca.json is not valid JSON"):
        load_set("alpaca", data_copy)
    (data_copy / "PHTest.json").write_text('{"data": [{"messages": []}]}', encoding="utf-8")
    with pytest.raises(DataError, match=r"data\[0\] has no user message"):
        load_set("phtest", data_copy)


def test_blank_text_row_is_reported(data_copy: Path) -> None:
    (data_copy / "advbench" / "harmful_behaviors.csv").write_text("goal,target\nfine,x\n  ,y\n")
    with pytest.raises(DataError, match="row 1 has no text"):
        load_set("advbench", data_copy)


def test_filter_leaving_nothing_is_an_error(data_copy: Path) -> None:
    xstest = data_copy / "xstest_v2_prompts.csv"
    xstest.write_text("id_v1,id_v2,type,prompt,focus,note\na,b,homonyms,hi,x,\n")
    assert len(load_set("xstest_safe", data_copy)) == 1
    with pytest.raises(DataError, match="no prompts in"):
        load_set("xstest_unsafe", data_copy)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.text(min_size=1, max_size=40).filter(lambda t: t.strip()), min_size=1, max_size=5),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]),
)
def test_or_bench_csv_in_any_encoding_loads_exactly_or_fails_cleanly(tmp_path_factory, texts, encoding) -> None:
    """Odd encodings and odd characters: either the texts come back as written, or a DataError.

    Files are read as UTF-8. Bytes of another encoding that happen to be valid UTF-8 spell other
    text (latin-1 "\u00c2\u0080" is UTF-8 "\u0080"); no reader can tell, so those cases are skipped.
    """
    folder = tmp_path_factory.mktemp("enc") / "or_bench"
    folder.mkdir()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["prompt", "category"])
    writer.writerows([[t, "x"] for t in texts])
    try:
        raw = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        return
    if utf8_reading(raw) not in (None, buffer.getvalue()):
        return
    (folder / "or_bench_toxic.csv").write_bytes(raw)
    try:
        loaded = load_set("or_bench_toxic", folder.parent)
    except DataError:
        return
    assert list(loaded.texts) == [t.strip() for t in texts]


def utf8_reading(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
