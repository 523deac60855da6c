"""The conditional policy's variants, one change at a time, measured on validation prompts.

Trains the probe and the two energies once from a collect run, then builds each variant from the
same parts, tunes its probe thresholds on the validation split (the unsteered answers are shared by
every variant) and measures it: the judges' rates per validation set at the chosen thresholds, the
next-token KL and the perplexity of the base model's answers on harmless prompts. Never a test prompt.

    python benchmarks/variants.py --run runs/qwen-train --judge model --limit 80 \\
        --out benchmarks/results/variants.json

Writes the JSON report, ``<out>.md`` (the ablation table of docs/variants.md) and the answers.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edshook.backends import make_backend
from edshook.data import load_set, select_prompts
from edshook.evaluation import Capability, tune_thresholds, write_answers
from edshook.interventions import PositionSelector, StepSchedule
from edshook.judges import AnswerJudge
from edshook.models import load_model
from edshook.training import ActivationSet, train_conditional_parts

VALIDATION = ("or_bench_hard", "or_bench_80k_retain", "refusal_harmless_train", "or_bench_toxic", "advbench")
"""Benign-but-scary, more benign-but-scary, plain harmless (Alpaca), then harmful: their validation parts."""

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class Variant:
    """One setting of the conditional policy."""

    name: str
    steps: int = 5
    step_size: float = 2.0
    gated: bool = False
    max_generated: int | None = None
    probe_window: int = 1
    band: bool = False
    note: str = ""

    def candidates(self) -> list[tuple[float, float]]:
        if not self.band:
            return [(t, t) for t in THRESHOLDS]
        return [(low, high) for low in THRESHOLDS for high in THRESHOLDS if low <= high]


VARIANTS = [
    Variant("previous default", note="K = 5 steps of size 2 at the last prompt token and every generated token"),
    Variant("+ energy gating", gated=True, note="each part moves a state only while its energy is above its gate"),
    Variant("+ first 16 tokens", gated=True, max_generated=16, note="generated tokens after the 16th are left alone"),
    Variant("+ prompt only", gated=True, max_generated=0, note="only the last prompt token is steered"),
    Variant("+ probe on 3 layers", gated=True, max_generated=16, probe_window=3, note="the probe reads 3 layers"),
    Variant(
        "+ uncertainty band",
        gated=True,
        max_generated=16,
        probe_window=3,
        band=True,
        note="prompts the probe is unsure of are left alone",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--run", type=Path, required=True, help="A folder written by `edshook collect` on the train split."
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--judge", choices=["substring", "model", "both"], default="substring")
    parser.add_argument("--limit", type=int, default=80, help="Validation prompts per set.")
    parser.add_argument("--harmless", type=int, default=48, help="Harmless prompts for KL and perplexity.")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--variants", nargs="*", default=None, help="Run only these variants (by name).")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "variants.json")
    args = parser.parse_args()
    started = time.perf_counter()
    backend = make_backend(load_model(), "nnsight")
    judge = AnswerJudge.build(args.judge)
    activations = ActivationSet.load(args.run)
    sets = select_prompts(split="val", sets=VALIDATION, limit=args.limit, data_dir=args.data_dir)
    harmless = list(load_set("refusal_harmless_val", args.data_dir).sample(args.harmless).texts)
    capability = Capability.measure(backend, harmless, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    parts = {window: train_conditional_parts(activations, probe_window=window, progress=False) for window in (1, 3)}
    chosen = [v for v in VARIANTS if args.variants is None or v.name in args.variants]
    base = None
    rows, answers = [], []
    for variant in chosen:
        schedule = StepSchedule(steps=variant.steps, step_size=variant.step_size, gated=variant.gated)
        positions = PositionSelector(max_generated=variant.max_generated)
        policy = parts[variant.probe_window].policy(
            benign_schedule=schedule, harmful_schedule=schedule, positions=positions
        )
        tuning = tune_thresholds(
            backend, policy, sets, judge, candidates=variant.candidates(), base=base,
            max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, progress=False,
        )  # fmt: skip
        base = {name: routes["base"] for name, routes in tuning.answers.items()}
        tuned = policy.replace(benign_below=tuning.benign_below, harmful_above=tuning.harmful_above)
        with backend.steer(tuned):
            kl, ppl = capability.distance(backend, batch_size=args.batch_size)
        thresholds = (tuning.benign_below, tuning.harmful_above)
        chosen_row = next(r for r in tuning.table if (r["benign_below"], r["harmful_above"]) == thresholds)
        rows.append(
            {
                "variant": asdict(variant),
                "probe": policy.metadata["probe"],
                "benign_below": tuning.benign_below,
                "harmful_above": tuning.harmful_above,
                "feasible": tuning.feasible,
                "validation": chosen_row,
                "harmless_kl": round(kl, 5),
                "harmless_perplexity": round(ppl, 4),
            }
        )
        records = [record for routes in tuning.answers.values() for rows_ in routes.values() for record in rows_]
        answers += [replace(record, method=f"{variant.name}/{record.method}") for record in records]
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "judge": judge.describe(),
        "n_per_set": {name: len(s) for name, s in sets.items()},
        "base": tuning.base,
        "max_new_tokens": args.max_new_tokens,
        "variants": rows,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report) + "\n")
    write_answers(answers, args.out.with_name(args.out.stem + "_answers.jsonl.gz"))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    names = list(report["n_per_set"])
    head = "| variant | thresholds | " + " | ".join(names) + " | KL | ppl |"
    lines = [head, "|" + "---|" * (len(names) + 4)]
    lines.append("| base model | | " + " | ".join(f"{100 * report['base'][n]:.1f}" for n in names) + " | 0 | |")
    for row in report["variants"]:
        cells = [f"{100 * row['validation'][n]:.1f}" for n in names]
        band = f"{row['benign_below']:g} / {row['harmful_above']:g}"
        lines.append(
            f"| {row['variant']['name']} | {band} | "
            + " | ".join(cells)
            + f" | {row['harmless_kl']:.3f} | {row['harmless_perplexity']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
