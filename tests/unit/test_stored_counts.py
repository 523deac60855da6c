"""The evaluation records behind the headline tables are counted as the model judge counts now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edshook.evaluation import AnswerRecord, read_answers
from edshook.evaluation.harness import SetResult

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
FOLDERS = sorted(path.parent for path in RESULTS.glob("*/*/report.json") if "candidates" not in path.parts)


def assert_counted(answers: Path, methods: dict[str, Any]) -> None:
    """Every verdict in ``answers`` is settled, and every rate of ``methods`` is its answers counted."""
    records = [AnswerRecord.from_json(row) for row in read_answers(answers)]
    for record in records:
        assert record.verdict.settled() == record.verdict, (record.method, record.set, record.id)
    for method, figures in methods.items():
        for name, entry in figures["sets"].items():
            mine = tuple(r for r in records if r.method == method and r.set == name)
            assert SetResult(name, entry["kind"], mine).to_json() == entry, (method, name)


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(f.relative_to(RESULTS)) for f in FOLDERS])
def test_every_evaluation_record_is_counted_as_the_judge_counts_now(folder: Path) -> None:
    assert_counted(folder / "answers.jsonl.gz", json.loads((folder / "report.json").read_text())["methods"])


@pytest.mark.parametrize("part", ["test", "jailbreaks"])
def test_the_effectiveness_report_is_counted_as_the_judge_counts_now(part: str) -> None:
    report = json.loads((RESULTS / "effectiveness.json").read_text())
    assert_counted(RESULTS / "answers" / f"effectiveness_{part}.jsonl.gz", report[part]["methods"])
