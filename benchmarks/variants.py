"""The conditional policy's variants, one change at a time, measured on validation prompts.

Trains the probe and the two energies once from a collect run and builds each variant from the same
parts. Every validation prompt is answered along each route of each variant (unsteered, steered as
benign, steered as harmful; the unsteered answers are shared), the judges read every answer, and
each variant's probe thresholds are chosen from those answers by the rule of ``edshook tune``. A route
shared by several variants is answered and judged once. Never a test prompt.

    python benchmarks/variants.py --run runs/qwen-train --judge both --limit 24

Writes ``results/variants.json`` (every variant's chosen thresholds, validation rates, harmless KL and
perplexity), ``results/variants.md`` (the ablation table of docs/variants.md) and
``results/answers/variants.jsonl.gz`` (every answer, with every verdict).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from edshook.backends import Backend, make_backend
from edshook.data import VALIDATION_SOURCES, PromptSet, load_set, select_prompts
from edshook.evaluation import (
    AnswerRecord,
    Capability,
    Method,
    choose_thresholds,
    evaluate,
    read_answers,
    write_answers,
)
from edshook.evaluation.bands import DEFAULT_BANDS, DEFAULT_THRESHOLDS
from edshook.evaluation.tuning import route_outcomes
from edshook.interventions import ConditionalSteering, EnergySteering, PositionSelector, StepSchedule
from edshook.judges import AnswerJudge
from edshook.models import load_model
from edshook.training import ActivationSet, train_conditional_parts


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
        return list(DEFAULT_BANDS) if self.band else [(t, t) for t in DEFAULT_THRESHOLDS]


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
        band=True,
        note="prompts the probe is unsure of are left alone: the shipped policy's settings",
    ),
    Variant(
        "+ step size 4",
        gated=True,
        max_generated=16,
        band=True,
        step_size=4.0,
        note="the shipped settings with each step twice as long",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="A collect run on the train split (needed unless --render).")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--judge", choices=["substring", "model", "both"], default="substring")
    parser.add_argument("--limit", type=int, default=80, help="Validation prompts per set.")
    parser.add_argument("--harmless", type=int, default=48, help="Harmless prompts for KL and perplexity.")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--variants", nargs="*", default=None, help="Run only these variants (by name).")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "variants.json")
    parser.add_argument("--render", action="store_true", help="Only rewrite the table from the saved --out.")
    args = parser.parse_args()
    if args.render:
        print(render(args.out))
        return
    if args.run is None:
        parser.error("--run is required: the collect run to train the parts from (or --render to redraw the table).")
    started = time.perf_counter()
    backend = make_backend(load_model(), "nnsight")
    activations = ActivationSet.load(args.run)
    sets = select_prompts(split="val", sets=VALIDATION_SOURCES, limit=args.limit, data_dir=args.data_dir)
    harmless = list(load_set("refusal_harmless_val", args.data_dir).sample(args.harmless).texts)
    capability = Capability.measure(backend, harmless, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    chosen = [v for v in VARIANTS if args.variants is None or v.name in args.variants]
    windows = {v.probe_window for v in chosen}
    parts = {window: train_conditional_parts(activations, probe_window=window, progress=False) for window in windows}
    policies = {v: build(parts[v.probe_window], v) for v in chosen}
    judge = AnswerJudge.build(args.judge)
    answers = answer_every_route(backend, policies, sets, judge, args)
    write_answers([record for records in answers.values() for record in records], answers_path(args.out))
    rows = []
    for variant in chosen:
        policy = policies[variant]
        routes = {"base": "base"} | {part: route_key(variant, part, policy) for part in ("benign", "harmful")}
        by_set = {name: {route: answers[key, name] for route, key in routes.items()} for name in sets}
        outcomes = route_outcomes(backend, policy, sets, by_set, batch_size=args.batch_size)
        tuning = choose_thresholds(outcomes, variant.candidates())
        tuned = policy.replace(benign_below=tuning.benign_below, harmful_above=tuning.harmful_above)
        with backend.steer(tuned):
            kl, ppl = capability.distance(backend, batch_size=args.batch_size)
        thresholds = (tuning.benign_below, tuning.harmful_above)
        row = next(r for r in tuning.table if (r["benign_below"], r["harmful_above"]) == thresholds)
        rows.append({
            "variant": asdict(variant),
            "probe": policy.metadata["probe"],
            "benign_below": tuning.benign_below,
            "harmful_above": tuning.harmful_above,
            "feasible": tuning.feasible,
            "validation": row,
            "harmless_kl": round(kl, 5),
            "harmless_perplexity": round(ppl, 4),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "judge": judge.describe(),
        "n_per_set": {name: len(s) for name, s in sets.items()},
        "base": tuning.base,
        "max_new_tokens": args.max_new_tokens,
        "base_perplexity": round(capability.distance(backend, batch_size=args.batch_size)[1], 4),
        "variants": rows,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(render(args.out))


def build(parts: Any, variant: Variant) -> ConditionalSteering:
    schedule = StepSchedule(steps=variant.steps, step_size=variant.step_size, gated=variant.gated)
    positions = PositionSelector(max_generated=variant.max_generated)
    return parts.policy(benign_schedule=schedule, harmful_schedule=schedule, positions=positions)  # type: ignore[no-any-return]


def route_key(variant: Variant, part: str, policy: ConditionalSteering) -> str:
    """What decides a route's answers: the part, its steering settings and the layers its energies steer."""
    steering = getattr(policy, part)
    layers = "none" if steering is None else ",".join(str(layer) for layer in steering.layers)
    return (
        f"{part} K={variant.steps} eta={variant.step_size:g} gated={variant.gated} "
        f"max_generated={variant.max_generated} layers={layers}"
    )


def answer_every_route(
    backend: Backend,
    policies: dict[Variant, ConditionalSteering],
    sets: dict[str, PromptSet],
    judge: AnswerJudge,
    args: argparse.Namespace,
) -> dict[tuple[str, str], tuple[AnswerRecord, ...]]:
    """Every route's judged answers, key (route, set): unsteered, and each distinct steered route once."""
    routes: dict[str, EnergySteering | None] = {"base": None}
    for variant, policy in policies.items():
        for part in ("benign", "harmful"):
            routes[route_key(variant, part, policy)] = getattr(policy, part)
    answers: dict[tuple[str, str], tuple[AnswerRecord, ...]] = {}
    for route, steering in tqdm(routes.items(), desc="routes", unit="route"):
        method = Method(route, () if steering is None else (steering,))
        result = evaluate(backend, method, sets, judge, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
        answers |= {(route, name): set_result.answers for name, set_result in result.sets.items()}
    return answers


def answers_path(out: Path) -> Path:
    return out.parent / "answers" / f"{out.stem}.jsonl.gz"


def render(out: Path) -> str:
    """Write ``out``'s markdown beside it (the ablation table, then the benign routes' ceilings) and return it."""
    rows = read_answers(answers_path(out))
    harmful = {r["set"] for r in rows if r["harmful"]}
    text = markdown(json.loads(out.read_text()), harmful) + "\n\n" + ceilings(rows) + "\n"
    out.with_suffix(".md").write_text(text)
    return text


def ceilings(rows: list[dict[str, Any]]) -> str:
    """How helpful each benign route could make a benign set whatever the probe says: the model judge's
    helpful rate when every prompt is steered as benign, and when each prompt keeps the better of its
    unsteered and steered answers (a perfect router's ceiling)."""
    if any(r["model"] is None for r in rows):
        return "The benign routes' ceilings need the model judge (--judge model or both)."
    helpful = {(r["method"], r["set"], r["id"]): r["model"]["label"] == "helpful" for r in rows if not r["harmful"]}
    sets = list(dict.fromkeys(key[1] for key in helpful))
    routes = list(dict.fromkeys(key[0] for key in helpful if key[0].startswith("benign ")))
    lines = [
        "| benign route | " + " | ".join(f"{n}: all steered | best of both" for n in sets) + " |",
        "|" + "---|" * (2 * len(sets) + 1),
    ]
    ids = {name: [key[2] for key in helpful if key[:2] == ("base", name)] for name in sets}
    for route in routes:
        cells = []
        for name in sets:
            steered = sum(helpful[route, name, i] for i in ids[name])
            either = sum(helpful[route, name, i] or helpful["base", name, i] for i in ids[name])
            cells += [f"{100 * steered / len(ids[name]):.1f}", f"{100 * either / len(ids[name]):.1f}"]
        lines.append(f"| {route.removeprefix('benign ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(report: dict[str, Any], harmful_sets: set[str]) -> str:
    """The ablation table: per variant its chosen band, the headline rate of every set (helpful on benign,
    refusal on harmful), and with the model judge harmful help on each harmful set and the worst benign
    set's degenerate rate; then KL and perplexity. Rates in percent."""
    names = list(report["n_per_set"])
    benign = [n for n in names if n not in harmful_sets]
    harmful = [n for n in names if n in harmful_sets]

    def cells(figures: dict[str, float]) -> list[str]:
        rates = [figures[n] for n in benign + harmful] + [figures.get(f"{n}:harmful") for n in harmful]
        degenerate = [figures[f"{n}:degenerate"] for n in benign if f"{n}:degenerate" in figures]
        return ["" if r is None else f"{100 * r:.1f}" for r in [*rates, max(degenerate, default=None)]]

    columns = [f"{n} helpful" for n in benign] + [f"{n} refusal" for n in harmful]
    columns += [f"{n} harmful help" for n in harmful] + ["degenerate (worst benign set)"]
    lines = [
        "| variant | band | " + " | ".join(columns) + " | KL | ppl | safe band found |",
        "|" + "---|" * (len(columns) + 5),
        f"| base model | | {' | '.join(cells(report['base']))} | 0 | {report['base_perplexity']:.2f} | |",
    ]
    for row in report["variants"]:
        band = f"{row['benign_below']:g} / {row['harmful_above']:g}"
        tail = f"{row['harmless_kl']:.3f} | {row['harmless_perplexity']:.2f} | {'yes' if row['feasible'] else 'no'}"
        lines.append(f"| {row['variant']['name']} | {band} | " + " | ".join(cells(row["validation"])) + f" | {tail} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
