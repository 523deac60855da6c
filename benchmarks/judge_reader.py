"""Measure the model judge against a reader on the answers behind the headline rates.

The benchmark tables count the model judge's labels; its own validation (judge_validation.py) has no
answers to benign-but-scary prompts and no disguised attacks. Here every distinct answer behind the
0.5B tables at 100 prompts per set was read: base and the shipped policy (at its previous band,
0.05 / 0.3, and at the shipped band, 0.4 / 0.4) on the OR-Bench-Hard and JBB-benign test prompts,
on the three harmful test sets, and on the PAIR and GCG-transfer jailbreak sets (50 each), and base
and its own policy on the five test sets for the 1.5B model (24 each). Each
answer was read twice, independently, against the definitions of the judge's rubrics (a label:
helpful, refusal or degenerate; for harmful prompts also whether it gives real help), and a third
reading settled the answers the two disagreed on, following guide_benign.md and guide_harmful.md.
Labels, readings and notes: benchmarks/results/judge_reader/items.jsonl.gz.

This script compares the stored verdicts (those the tables were counted from) with the reader, set by
set and run by run; with --rejudge it judges every item again with the library's rubrics, so a rubric
change can be measured (items are split into halves by a hash of the prompt id, as in
judge_validation.py: change a rubric on the dev half, read the held-out half).

    python benchmarks/judge_reader.py                                     # stored verdicts vs reader
    python benchmarks/judge_reader.py --rejudge --out runs/judge-reader   # the current rubrics vs reader
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch
from judge_validation import half_of

from edshook.evaluation.metrics import wilson_interval
from edshook.judges import (
    DEFAULT_JUDGE_MODEL,
    HARM_RUBRIC,
    JUDGE_LABELS,
    LABEL_RUBRIC,
    ModelJudge,
    ModelVerdict,
    Rubric,
)

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks" / "results" / "judge_reader"


def read_items(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def answers(items: list[dict]) -> list[dict]:
    """One row per answer behind a table: an item once for each run that gave it, with that run's verdict."""
    return [
        {**item, "run": run, "verdict": verdict["label"], "verdict_help": help_call(verdict),
         "substring_refused": verdict["substring_refused"]}
        for item in items
        for run, verdict in item["runs"].items()
    ]  # fmt: skip


def help_call(verdict: dict) -> str | None:
    """The judge's harm call as ModelVerdict.gives_help makes it: the harm pass and a helpful label."""
    if verdict["harmful"] is None:
        return None
    return "yes" if ModelVerdict(verdict["label"], {}, verdict["harmful"]).gives_help else "no"


def agreement(rows: list[dict]) -> dict:
    """The judge's labels (and harm calls, where read) against the reader's, with per-label precision and recall."""
    confusion = Counter((row["reader"], row["verdict"]) for row in rows)
    agree = sum(n for (r, j), n in confusion.items() if r == j)
    result: dict = {"n": len(rows), "agree": round(agree / len(rows), 3)}
    for label in JUDGE_LABELS:
        said = sum(n for (_, j), n in confusion.items() if j == label)
        truly = sum(n for (r, _), n in confusion.items() if r == label)
        hit = confusion[(label, label)]
        result[label] = {
            "reader": truly,
            "judge": said,
            "precision": round(hit / said, 3) if said else None,
            "recall": round(hit / truly, 3) if truly else None,
        }
    result["confusion"] = {f"reader {r} / judge {j}": n for (r, j), n in sorted(confusion.items())}
    refused = [row["reader"] == "refusal" for row in rows]
    result["refusal_or_not"] = {  # the one question the substring count can answer, both ways
        "judge": accuracy([row["verdict"] == "refusal" for row in rows], refused),
        "substring": accuracy([row["substring_refused"] for row in rows], refused),
    }
    harm = [row for row in rows if row["help"] is not None]
    if harm:
        calls = Counter((row["help"], row["verdict_help"]) for row in harm)
        result["help"] = {f"reader {r} / judge {j}": n for (r, j), n in sorted(calls.items())}
    return result


def totals(rows: list[dict]) -> dict:
    """Agreement over every counted answer to benign prompts, and to harmful ones (jailbreaks included):
    all of them, then each half."""
    kinds = {"benign sets": False, "harmful and jailbreak sets": True}
    return {
        f"{kind} {half}": agreement(
            [r for r in rows if (r["help"] is not None) == harmful and half in ("all", half_of(r["id"]))]
        )
        for kind, harmful in kinds.items()
        for half in ("all", "dev", "held_out")
    }


def accuracy(said: list[bool], truth: list[bool]) -> float:
    return round(sum(a == b for a, b in zip(said, truth, strict=True)) / len(truth), 3)


def percent(count: int, n: int) -> dict:
    low, high = wilson_interval(count, n)
    return {"rate": round(100 * count / n, 1), "interval": [round(100 * low), round(100 * high)]}


def run_rates(rows: list[dict]) -> list[dict]:
    """Per run (model, set, method): the rate its table reports, by the reader, by the judge and by substrings."""
    runs: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        runs.setdefault((row["model"], row["set"], row["run"]), []).append(row)
    result = []
    for (model, name, run), members in sorted(runs.items()):
        n, harmful = len(members), members[0]["help"] is not None
        wanted = "refusal" if harmful else "helpful"
        rates = {
            "model": model,
            "set": name,
            "run": run,
            "n": n,
            "rate": wanted,
            "reader": percent(sum(m["reader"] == wanted for m in members), n),
            "judge": percent(sum(m["verdict"] == wanted for m in members), n),
            "substring": percent(sum(m["substring_refused"] == harmful for m in members), n),
            "reader_degenerate": percent(sum(m["reader"] == "degenerate" for m in members), n),
            "judge_degenerate": percent(sum(m["verdict"] == "degenerate" for m in members), n),
        }
        if harmful:
            rates["reader_help"] = percent(sum(m["help"] == "yes" for m in members), n)
            rates["judge_help"] = percent(sum(m["verdict_help"] == "yes" for m in members), n)
        result.append(rates)
    return result


def table(rows: list[dict]) -> str:
    def cell(value: dict | None) -> str:
        return "" if value is None else f"{value['rate']} [{value['interval'][0]}, {value['interval'][1]}]"

    lines = [
        "| model | set | run | n | rate | reader | model judge | substring | harmful help: reader | model judge "
        "| degenerate: reader | model judge |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['set']} | {row['run']} | {row['n']} | {row['rate']} | {cell(row['reader'])} "
            f"| {row['judge']['rate']} | {row['substring']['rate']} | {cell(row.get('reader_help'))} "
            f"| {row['judge_help']['rate'] if 'judge_help' in row else ''} | {row['reader_degenerate']['rate']} "
            f"| {row['judge_degenerate']['rate']} |"
        )
    return "\n".join(lines)


def rejudge(
    items: list[dict], model: str, batch_size: int, label_rubric: Rubric = LABEL_RUBRIC, *, harm: bool = True
) -> dict:
    """Judge every item again; the new verdict replaces every run's, in place. ``harm=False`` reads
    the labels only and keeps the stored harm scores (for a change of the label rubric alone)."""
    judge = ModelJudge.load(
        model, dtype=torch.bfloat16, batch_size=batch_size, progress=True, label_rubric=label_rubric
    )
    start = time.perf_counter()
    flags = [harm and i["help"] is not None for i in items]
    verdicts = judge.verdicts([i["prompt"] for i in items], [i["answer"] for i in items], harmful=flags)
    for item, verdict in zip(items, verdicts, strict=True):
        item["rejudged"] = verdict.to_json()
        for stored in item["runs"].values():
            stored["label"] = verdict.label
            if harm:
                stored["harmful"] = verdict.harmful
    return {"seconds": round(time.perf_counter() - start, 1), "answers": len(items), "harm_pass": harm}


def measure(
    items: list[dict],
    out: Path,
    *,
    rejudge_with: Rubric | None = None,
    harm: bool = True,
    model: str = DEFAULT_JUDGE_MODEL,
    batch_size: int = 8,
) -> dict:
    """Agreement and per-run rates of the stored verdicts, or of new ones under ``rejudge_with`` (with
    the harm pass too unless ``harm`` is false); writes ``out``."""
    cost = None if rejudge_with is None else rejudge(items, model, batch_size, rejudge_with, harm=harm)
    rows = answers(items)
    groups = sorted({(row["model"], row["set"]) for row in rows})
    summary = {
        "verdicts": "stored with the answers"
        if rejudge_with is None
        else "labels judged again with the rubric below" + ("; harm too" if harm else "; harm scores as stored"),
        "cost": cost,
        "agreement": {
            f"{model} {name} {half}": agreement(
                [r for r in rows if r["model"] == model and r["set"] == name and half_of(r["id"]) == half]
            )
            for model, name in groups
            for half in ("dev", "held_out")
        },
        "totals": totals(rows),
        "runs": run_rates(rows),
    }
    if rejudge_with is not None:
        summary["rubrics"] = {"labels": asdict(rejudge_with), "harm": asdict(HARM_RUBRIC)}
        summary["items"] = [{"item": i["item"], "judged": i["rejudged"]} for i in items]
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(table(summary["runs"]) + "\n", encoding="utf-8")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=Path, default=HERE / "items.jsonl.gz", help="The reader-labelled answers.")
    parser.add_argument("--rejudge", action="store_true", help="Judge every item again with the library's rubrics.")
    parser.add_argument("--model", default=DEFAULT_JUDGE_MODEL)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=HERE, help="Folder for summary.json and summary.md.")
    args = parser.parse_args()
    summary = measure(
        read_items(args.items),
        args.out,
        rejudge_with=LABEL_RUBRIC if args.rejudge else None,
        model=args.model,
        batch_size=args.batch_size,
    )
    for key, value in summary["agreement"].items():
        print(key, "n", value["n"], "agree", value["agree"], value["confusion"], value.get("help", ""))
    print(table(summary["runs"]))


if __name__ == "__main__":
    main()
