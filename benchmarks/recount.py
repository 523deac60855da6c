"""Count the stored answers behind the headline tables as the model judge counts them now; no model runs.

A verdict's label is a function of what each answers row stores: the judge model's probabilities, the
degeneracy measures and whether the answer holds a refusal phrase (its substring verdict, the same
default phrases); harmful help needs the harm pass and a ``helpful`` label (``ModelVerdict.gives_help``).
When that function changes, as when a ``refusal`` label came to need a refusal phrase, this script
settles the answers again (``Verdict.settled``) and rebuilds what is counted from them: the
effectiveness report, every evaluation folder's report.json and report.md, and the per-run verdicts of
the reader file. A settled row's model verdict carries ``refusal_phrase``; rows without it (the
variant and candidate records) were counted before the phrase check. Tuning records also need the
probe's scores: ``benchmarks/results/default_policy/stability.py --retune`` chooses their band again.

    python benchmarks/recount.py           # rewrite the records in place
    python benchmarks/recount.py --check   # exit 1 when a record is not counted as the judge counts now
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from edshook.evaluation import AnswerRecord, read_answers, write_answers
from edshook.evaluation.harness import SetResult
from edshook.evaluation.reports import markdown_details, markdown_table

RESULTS = Path(__file__).resolve().parent / "results"
EVALUATIONS = (
    "test100/benign",
    "test100/base_harmful",
    "test100/shipped_harmful",
    "test100/band_benign",
    "test100/band_harmful",
    "test100/band_0.4_benign",
    "test100/band_0.4_harmful",
    "jailbreak50/base",
    "jailbreak50/shipped",
    "jailbreak50/band_0.4",
    "qwen1.5b/eval_base",
    "qwen1.5b/eval_policy",
    "qwen1.5b/test100_base",
    "qwen1.5b/test100_policy",
)
"""Evaluation folders (report.json beside answers.jsonl.gz) behind the headline tables."""
EFFECTIVENESS_PARTS = ("test", "jailbreaks")
READER_ITEMS = RESULTS / "judge_reader" / "items.jsonl.gz"
READER_RUNS = {
    "base": ("base",),
    "previous band": ("shipped", "eds"),
    "shipped band": ("shipped_0.4_0.4",),
    "its policy": ("eds",),
}
"""The reader file's run names and the methods they are called in the evaluation folders."""


def settle(rows: Sequence[dict[str, Any]]) -> list[AnswerRecord]:
    """The records of answers rows, each verdict settled as the model judge settles it now."""
    return [replace(record, verdict=record.verdict.settled()) for record in map(AnswerRecord.from_json, rows)]


def recount_methods(methods: dict[str, Any], records: Sequence[AnswerRecord], where: str) -> dict[str, Any]:
    """A report's ``"methods"`` with every set's rates counted again from ``records`` (other figures kept)."""
    counted = {}
    for label, figures in methods.items():
        sets = {}
        for name, entry in figures["sets"].items():
            answers = tuple(r for r in records if r.method == label and r.set == name)
            if len(answers) != entry["n"]:
                raise SystemExit(
                    f"{where}: {label} / {name} reports {entry['n']} answers, the file holds {len(answers)}"
                )
            sets[name] = SetResult(name, entry["kind"], answers).to_json()
        counted[label] = {**figures, "sets": sets}
    return counted


def recount_evaluation(folder: Path) -> tuple[dict[str, tuple[str, str]], str, list[AnswerRecord]]:
    """report.json, report.md and answers.jsonl.gz of one evaluation folder, recounted (path -> (old,
    new)), the folder's model id and its settled records."""
    answers = folder / "answers.jsonl.gz"
    records = settle(read_answers(answers))
    report = json.loads((folder / "report.json").read_text())
    report["methods"] = recount_methods(report["methods"], records, str(folder))
    methods = report["methods"]
    changes = {
        str(answers): (_text_of(answers), _answers_text(records)),
        str(folder / "report.json"): (_text_of(folder / "report.json"), json.dumps(report, indent=2) + "\n"),
        str(folder / "report.md"): (
            _text_of(folder / "report.md"),
            markdown_table(methods) + "\n\n" + markdown_details(methods) + "\n",
        ),
    }
    return changes, report["model"].split()[0], records


def recount_effectiveness(out: Path, name: str = "effectiveness") -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The effectiveness report counted again from its answers, and its answers files: path -> (old, new)."""
    report = json.loads((out / f"{name}.json").read_text())
    changes = {}
    for part in EFFECTIVENESS_PARTS:
        path = out / "answers" / f"{name}_{part}.jsonl.gz"
        records = settle(read_answers(path))
        report[part]["methods"] = recount_methods(report[part]["methods"], records, str(path))
        changes[str(path)] = (_text_of(path), _answers_text(records))
    return report, changes


def reader_items(records: dict[tuple[str, str, str, str], AnswerRecord]) -> tuple[str, str]:
    """The reader file with each run's stored label taken from its settled record, keyed (model, method,
    set, id)."""
    old = _text_of(READER_ITEMS)
    items = [json.loads(line) for line in old.splitlines() if line.strip()]
    for item in items:
        for run, stored in item["runs"].items():
            (record,) = [
                records[key]
                for method in READER_RUNS[run]
                if (key := (item["model"], method, item["set"], item["id"])) in records
            ]
            assert record.answer == item["answer"] and record.verdict.model is not None, (item["item"], run)
            stored["label"] = record.verdict.model.label
    return old, "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def _answers_text(records: Sequence[AnswerRecord]) -> str:
    return "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)


def _text_of(path: Path) -> str:
    if not path.exists():
        return ""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    return path.read_text(encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="Change nothing; exit 1 if a record would change.")
    args = parser.parse_args()
    changes: dict[str, tuple[str, str]] = {}
    records: dict[tuple[str, str, str, str], AnswerRecord] = {}
    for folder in EVALUATIONS:
        folder_changes, model, settled = recount_evaluation(RESULTS / folder)
        changes |= folder_changes
        for record in settled:
            records.setdefault((model, record.method, record.set, record.id), record)
    report, effectiveness = recount_effectiveness(RESULTS)
    changes |= effectiveness
    changes[str(READER_ITEMS)] = reader_items(records)
    stale = sorted(path for path, (old, new) in changes.items() if old != new)
    if args.check:
        print("\n".join(f"not counted as the judge counts now: {path}" for path in stale) or "every record is current")
        raise SystemExit(1 if stale else 0)
    for path in stale:
        new = changes[path][1]
        if path.endswith(".jsonl.gz"):
            write_answers([json.loads(line) for line in new.splitlines()], path)
        else:
            Path(path).write_text(new, encoding="utf-8")
    from effectiveness import render

    render(report, argparse.Namespace(out=RESULTS, name="effectiveness"))
    print(f"rewrote {len(stale)} files")


if __name__ == "__main__":
    main()
