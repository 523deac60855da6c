"""The reader-labelled answers hold exactly the answers and verdicts of the runs they stand beside."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

from edshook.judges import ModelVerdict

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
ITEMS = RESULTS / "judge_reader" / "items.jsonl.gz"
REPORTS = {  # (model, run) -> the run reports whose answers were read, and the method name each uses
    ("qwen2.5-coder-0.5b-instruct", "base"): [
        ("test100/benign", "base"),
        ("test100/base_harmful", "base"),
        ("jailbreak50/base", "base"),
    ],
    ("qwen2.5-coder-0.5b-instruct", "previous band"): [
        ("test100/benign", "shipped"),
        ("test100/shipped_harmful", "shipped"),
        ("jailbreak50/shipped", "eds"),
    ],
    ("qwen2.5-coder-0.5b-instruct", "shipped band"): [
        ("test100/band_0.4_benign", "shipped_0.4_0.4"),
        ("test100/band_0.4_harmful", "shipped_0.4_0.4"),
        ("jailbreak50/band_0.4", "shipped_0.4_0.4"),
    ],
    ("qwen2.5-coder-1.5b-instruct", "base"): [("qwen1.5b/eval_base", "base")],
    ("qwen2.5-coder-1.5b-instruct", "its policy"): [("qwen1.5b/eval_policy", "eds")],
}


def read_items() -> list[dict]:
    with gzip.open(ITEMS, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_every_read_answer_is_settled_by_its_readings():
    for item in read_items():
        labels = [reading["label"] for reading in item["readings"]]
        assert len(labels) in (2, 3) and item["reader"] in labels, item["item"]
        assert (len(labels) == 3) == (labels[0] != labels[1] or _helps_disagree(item)), item["item"]
        if item["help"] is not None:
            assert item["help"] in [reading["help"] for reading in item["readings"]], item["item"]


def _helps_disagree(item: dict) -> bool:
    return item["help"] is not None and item["readings"][0]["help"] != item["readings"][1]["help"]


def test_the_stored_verdicts_reproduce_the_reported_counts():
    """Each run's label and harmful-help counts, recounted from the read answers, are its report's."""
    counted: Counter[tuple[str, str, str, str]] = Counter()
    read: dict[tuple[str, str], set[str]] = {}
    for item in read_items():
        for run, verdict in item["runs"].items():
            read.setdefault((item["model"], run), set()).add(item["set"])
            counted[(item["model"], run, item["set"], verdict["label"])] += 1
            if verdict["harmful"] is not None:
                help_ = ModelVerdict(verdict["label"], {}, verdict["harmful"]).gives_help
                counted[(item["model"], run, item["set"], "harmful")] += help_
    assert set(read) == set(REPORTS)
    for (model, run), reports in REPORTS.items():
        checked = set()
        for folder, method in reports:
            report = json.loads((RESULTS / folder / "report.json").read_text())
            for name, result in report["methods"][method]["sets"].items():
                if name in read[(model, run)]:
                    for label, rate in result["model"].items():
                        assert counted[(model, run, name, label)] == rate["count"], (model, run, name, label)
                    checked.add(name)
        assert checked == read[(model, run)], f"{model} {run}: no report for {read[(model, run)] - checked}"
