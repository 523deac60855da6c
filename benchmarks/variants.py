"""The conditional policy's variants, one change at a time, measured on validation prompts.

Trains the probe and the two energies once from a collect run and builds each variant from the same
parts. Every validation prompt is answered along each route of each variant (unsteered, steered as
benign, steered as harmful; the unsteered answers are shared), the judges read every answer, and
each variant's probe thresholds are chosen from those answers by the rule of ``edshook tune``. The
generated answers are cached, so the same answers can be read again by another judge. Never a test prompt.

    python benchmarks/variants.py --run runs/qwen-train --judge model --limit 80

Writes ``results/variants.json`` (every variant's chosen thresholds, validation rates, harmless KL and
perplexity), ``results/variants.md`` (the ablation table of docs/variants.md) and the answers.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edshook.backends import Backend, make_backend
from edshook.data import load_set, select_prompts
from edshook.evaluation import Capability, choose_thresholds, read_answers, set_kind
from edshook.evaluation.tuning import Outcomes
from edshook.interventions import ConditionalSteering, PositionSelector, StepSchedule
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
    parser.add_argument("--run", type=Path, required=True, help="A collect run on the train split.")
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
    activations = ActivationSet.load(args.run)
    sets = select_prompts(split="val", sets=VALIDATION, limit=args.limit, data_dir=args.data_dir)
    harmless = list(load_set("refusal_harmless_val", args.data_dir).sample(args.harmless).texts)
    capability = Capability.measure(backend, harmless, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    parts = {window: train_conditional_parts(activations, probe_window=window, progress=False) for window in (1, 3)}
    chosen = [v for v in VARIANTS if args.variants is None or v.name in args.variants]
    policies = {v: build(parts[v.probe_window], v) for v in chosen}
    cache = args.out.with_name(args.out.stem + "_answers.jsonl")
    answers = generate(backend, policies, sets, cache, args)
    judge = AnswerJudge.build(args.judge)
    rows = []
    for variant in chosen:
        policy = policies[variant]
        outcomes = {}
        for name, prompts in sets.items():
            texts, harmful = list(prompts.texts), [p.harmful for p in prompts]
            scores = policy.probe.probability(backend.collect(texts, list(policy.probe.layers), progress=False))
            routes = {
                "base": "base",
                "benign": route_key(variant, "benign", policy),
                "harmful": route_key(variant, "harmful", policy),
            }
            verdicts = {route: judge(texts, answers[key, name], harmful) for route, key in routes.items()}
            outcomes[name] = Outcomes.of(set_kind(prompts), scores, verdicts)
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
    args.out.with_suffix(".md").write_text(markdown(report) + "\n")
    print(markdown(report))


def build(parts: Any, variant: Variant) -> ConditionalSteering:
    schedule = StepSchedule(steps=variant.steps, step_size=variant.step_size, gated=variant.gated)
    positions = PositionSelector(max_generated=variant.max_generated)
    return parts.policy(benign_schedule=schedule, harmful_schedule=schedule, positions=positions)  # type: ignore[no-any-return]


def route_key(variant: Variant, part: str, policy: ConditionalSteering) -> str:
    """What decides a route's answers: the part, its steering settings and the layer its energies start at."""
    return (
        f"{part} K={variant.steps} eta={variant.step_size:g} gated={variant.gated} "
        f"max_generated={variant.max_generated} from_layer={policy.probe.layer}"
    )


def generate(
    backend: Backend,
    policies: dict[Variant, ConditionalSteering],
    sets: dict[str, Any],
    cache: Path,
    args: argparse.Namespace,
) -> dict[tuple[str, str], list[str]]:
    """Every route's answers, key (route, set); read from ``cache`` where a run already wrote them."""
    answers: dict[tuple[str, str], list[str]] = {}
    if cache.is_file():
        for row in read_answers(cache):
            answers.setdefault((row["method"], row["set"]), []).append(row["answer"])
    routes = {"base": None} | {
        route_key(variant, part, policy): steering
        for variant, policy in policies.items()
        for part, steering in (("benign", policy.benign), ("harmful", policy.harmful))
    }
    for route, steering in routes.items():
        for name, prompts in sets.items():
            if (route, name) in answers:
                continue
            with ExitStack() as stack:
                if steering is not None:
                    stack.enter_context(backend.steer(steering))
                texts = list(prompts.texts)
                answers[route, name] = backend.generate(
                    texts, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, progress=False
                )
            with cache.open("a", encoding="utf-8") as sink:
                for prompt, answer in zip(prompts, answers[route, name], strict=True):
                    row = {"method": route, "set": name, "id": prompt.id, "prompt": prompt.text, "answer": answer}
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(f"answered {route} / {name}", flush=True)
    return answers


def markdown(report: dict[str, Any]) -> str:
    names = list(report["n_per_set"])
    head = "| variant | thresholds | " + " | ".join(names) + " | KL | ppl |"
    lines = [head, "|" + "---|" * (len(names) + 4)]
    base = " | ".join(f"{100 * report['base'][n]:.1f}" for n in names)
    lines.append(f"| base model | | {base} | 0 | {report['base_perplexity']:.2f} |")
    for row in report["variants"]:
        cells = [f"{100 * row['validation'][n]:.1f}" for n in names]
        band = f"{row['benign_below']:g} / {row['harmful_above']:g}"
        tail = f" | {row['harmless_kl']:.3f} | {row['harmless_perplexity']:.2f} |"
        lines.append(f"| {row['variant']['name']} | {band} | " + " | ".join(cells) + tail)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
