"""EDS against the baselines on an embedded model, judged as a reader would: helpful, refusal, degenerate, harmful.

Every setting is chosen without the test prompts: the policy's probe thresholds by ``edshook tune``,
and each swept baseline's setting (ActAdd coefficient, surgical start layer, gated step size) on the
validation split, by the rule of ``safe_summary`` (the most helpful setting whose refusal on every
harmful validation set stays within 2 points of base). The chosen methods then answer the held-out
test sets (and the jailbreak sets) with ``--max-new-tokens`` tokens, and both judges read every answer.

    python benchmarks/effectiveness.py --policy runs/qwen-policy --reference runs/qwen-single \\
        --data-dir DATA --limit 100 --jailbreak-limit 50

Writes ``<out>/<name>.json`` (every figure), ``<name>.md`` (the tables), ``<name>.png`` (the plot) and
``<out>/answers/<name>_<part>.jsonl.gz`` (every answer with every verdict). A long run can be split by
method: run some with ``--methods ... --out runs/more`` (base always runs), then add them to the saved
report with ``--merge-from runs/more``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from edshook.backends import make_backend
from edshook.data import BENCHMARK_SOURCES, JAILBREAK_SOURCES, VALIDATION_SOURCES, select_prompts
from edshook.evaluation import Method, compare, comparison_methods, write_answers
from edshook.evaluation.plots import plot_report
from edshook.evaluation.reports import all_answers, markdown_details, markdown_table, read_answers, report_of
from edshook.interventions import EnergySteering, load_policy
from edshook.judges import AnswerJudge
from edshook.models import DEFAULT_MODEL, load_model

HEADLINE = ("base", "system_prompt", "refusal_ablation", "surgical", "actadd", "eds_gated", "eds_default")
"""The methods of the headline table; swept ones run at the setting chosen on validation."""

ON_JAILBREAKS = ("base", "refusal_ablation", "eds_default")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="default", help="The conditional policy: a folder or 'default'.")
    parser.add_argument("--reference", type=Path, default=None, help="A single-energy policy (for eds_gated).")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--judge", choices=["substring", "model", "both"], default="both")
    parser.add_argument("--limit", type=int, default=100, help="Test prompts per set.")
    parser.add_argument("--jailbreak-limit", type=int, default=50, help="Prompts per jailbreak set (0: none).")
    parser.add_argument("--val-limit", type=int, default=60, help="Validation prompts per set to choose settings.")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--name", default="effectiveness")
    parser.add_argument(
        "--methods",
        default=",".join(HEADLINE),
        help=f"Comma-separated, of {', '.join(HEADLINE)} (a shorter run; base always runs).",
    )
    parser.add_argument(
        "--merge-from",
        type=Path,
        default=None,
        help="Run nothing: add the methods of the report saved in this folder (by a run with --out there).",
    )
    args = parser.parse_args()
    if args.merge_from is not None:
        merge(args.merge_from, args)
        return
    args.methods = tuple(dict.fromkeys(["base", *args.methods.split(",")]))  # every rate is read against base
    unknown = sorted(set(args.methods) - set(HEADLINE))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(HEADLINE)}")
    started = time.perf_counter()
    backend = make_backend(load_model(args.model), "nnsight")
    policy = load_policy(args.policy, model=backend.spec)
    reference = None if args.reference is None else EnergySteering.load(args.reference, model=backend.spec)
    candidates = comparison_methods(
        backend, policy, data_dir=args.data_dir, reference=reference, only=args.methods, progress=False
    )
    chosen, selection = choose_settings(backend, candidates, args)
    judge = AnswerJudge.build(args.judge)
    header = {"model": backend.loaded.describe(), "command": command(args), "selection": selection}
    test = select_prompts(split="test", sets=BENCHMARK_SOURCES, limit=args.limit, data_dir=args.data_dir)
    common = {"data_dir": args.data_dir, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size}
    main_run = compare(backend, chosen, test, judge, header=header, **common)
    results = {"test": main_run}
    if args.jailbreak_limit > 0:
        attacks = select_prompts(sets=JAILBREAK_SOURCES, limit=args.jailbreak_limit, data_dir=args.data_dir)
        on_attacks = [m for m in chosen if m.name in ON_JAILBREAKS]
        results["jailbreaks"] = compare(backend, on_attacks, attacks, judge, harmless=1, **common)
    write(results, args, time.perf_counter() - started)


def choose_settings(
    backend: Any, candidates: list[Method], args: argparse.Namespace
) -> tuple[list[Method], dict[str, Any]]:
    """Each headline method once: a swept one at its best safe setting on validation prompts (substring
    judge, 24 tokens: a cheap, monotone proxy for choosing among settings of one method)."""
    swept = [m for m in candidates if m.name in args.methods and m.sweep is not None and m.name != "eds_default"]
    val = select_prompts(split="val", sets=VALIDATION_SOURCES, limit=args.val_limit, data_dir=args.data_dir)
    selection: dict[str, Any] = {}
    if swept:
        base = next(m for m in candidates if m.name == "base")
        run = compare(backend, [base, *swept], val, AnswerJudge(), data_dir=args.data_dir, harmless=1,
                      max_new_tokens=24, batch_size=args.batch_size, progress=False)  # fmt: skip
        selection = {name: row for name, row in run.summary.items() if name != "base"}
    chosen = []
    for name in args.methods:
        group = [m for m in candidates if m.name == name]
        if not group:
            continue
        best = selection.get(name, {}).get("best_safe_setting")
        if len(group) > 1 and best is None:  # no safe setting: the gentlest one
            best = min(m.sweep.value for m in group if m.sweep is not None)
        chosen += [m for m in group if len(group) == 1 or (m.sweep is not None and m.sweep.value == best)]
    return chosen, selection


def write(results: dict[str, Any], args: argparse.Namespace, seconds: float) -> None:
    """One JSON report (a part per prompt family), the tables, the plot, and every answer, compressed."""
    first = results["test"]
    report: dict[str, Any] = {
        "max_new_tokens": args.max_new_tokens,
        "judge_model": first.header.get("judge_model"),
        "wall_seconds": round(seconds, 1),
    }
    for part, comparison in results.items():
        report[part] = report_of(comparison.results, {**comparison.header, "summary": comparison.summary})
        write_answers(all_answers(comparison.results), answers_path(args.out, args.name, part))
    render(report, args)
    print(json.dumps(first.summary, indent=2))
    print(f"wall time {seconds / 60:.1f} min")


def merge(source: Path, args: argparse.Namespace) -> None:
    """Add the methods of the report saved in ``source`` (a run with ``--out source``) to the one in
    ``--out``, with their answers; a method in both (at any setting) takes ``source``'s. Nothing is run."""
    into, extra = (json.loads((folder / f"{args.name}.json").read_text()) for folder in (args.out, source))
    for key in ("max_new_tokens", "judge_model"):
        if into[key] != extra[key]:
            raise SystemExit(f"--merge-from: {key} is {extra[key]} in {source} but {into[key]} in {args.out}.")
    for part, figures in extra.items():
        if not isinstance(figures, dict) or "methods" not in figures:
            continue
        rows = read_answers(answers_path(source, args.name, part))
        old = into.get(part)
        if old is not None:
            replaced = {m["method"] for m in figures["methods"].values()}
            kept = {label: m for label, m in old["methods"].items() if m["method"] not in replaced}
            methods = sorted({**kept, **figures["methods"]}.items(), key=lambda item: HEADLINE.index(item[1]["method"]))
            added = {key: value for key, value in figures.items() if key != "methods"}
            figures = {**old, "methods": dict(methods), "added": [*old.get("added", []), added]}
            old_rows = read_answers(answers_path(args.out, args.name, part))
            rows = [row for row in old_rows if row["method"] in kept] + rows
        into[part] = figures
        write_answers(rows, answers_path(args.out, args.name, part))
    into["wall_seconds"] = round(into["wall_seconds"] + extra["wall_seconds"], 1)
    render(into, args)


def render(report: dict[str, Any], args: argparse.Namespace) -> None:
    """``<name>.json``, ``<name>.md`` (a table per part) and ``<name>.png`` (the test part's trade-off)."""
    parts = [part for part, figures in report.items() if isinstance(figures, dict) and "methods" in figures]
    tables = "\n\n".join(
        f"### {part}\n\n{markdown_table(report[part]['methods'])}\n\n{markdown_details(report[part]['methods'])}"
        for part in parts
    )
    plot_report(report["test"]["methods"], args.out / f"{args.name}.png")
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(tables + "\n")
    print(tables)


def answers_path(out: Path, name: str, part: str) -> Path:
    return out / "answers" / f"{name}_{part}.jsonl.gz"


def command(args: argparse.Namespace) -> str:
    options = " ".join(
        f"--{key.replace('_', '-')} {value}"
        for key, value in vars(args).items()
        if value is not None and key not in ("out", "name", "methods", "merge_from")
    )
    if args.methods != HEADLINE:
        options += f" --methods {','.join(args.methods)}"
    return f"python benchmarks/effectiveness.py {options}"


if __name__ == "__main__":
    main()
