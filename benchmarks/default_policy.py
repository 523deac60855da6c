"""Train, tune and write the policy shipped as ``load_policy("default")`` for Qwen2.5-Coder-0.5B-Instruct.

Trains the probe and the two energies from a collect run of the train split with the trained defaults
(``TRAINED_SCHEDULE``, ``TRAINED_POSITIONS``), then chooses the probe band on validation prompts by the
rule of ``edshook tune``: benign-but-scary prompts (OR-Bench-Hard, OR-Bench-80K), plain harmless ones
(Alpaca) and harmful ones (OR-Bench-Toxic, AdvBench). Never a test prompt.

    edshook collect --split train --out runs/qwen-train
    python benchmarks/default_policy.py --run runs/qwen-train --judge both --limit 24

Writes the policy (float16 weights) into ``edshook/policies/qwen2.5-coder-0.5b-instruct/`` and the tuning
record into ``benchmarks/results/default_policy/``: ``tuning.md`` (every candidate band), ``tuning.json``
and ``answers.jsonl`` (every answer read, with every verdict).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from edshook.backends import make_backend
from edshook.data import select_prompts
from edshook.evaluation import tune_thresholds
from edshook.judges import AnswerJudge
from edshook.models import load_model
from edshook.policies import SHIPPED_POLICIES
from edshook.training import ActivationSet, train_conditional_parts

VALIDATION = ("or_bench_hard", "or_bench_80k_retain", "refusal_harmless_train", "or_bench_toxic", "advbench")
"""Benign-but-scary, more benign-but-scary, plain harmless (Alpaca), then harmful: their validation parts."""

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
BANDS = [(low, high) for low in THRESHOLDS for high in THRESHOLDS if low <= high]
POLICY = Path(__file__).resolve().parents[1] / "edshook" / "policies" / SHIPPED_POLICIES["default"]
RESULTS = Path(__file__).resolve().parent / "results" / "default_policy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a collect run of the train split")
    parser.add_argument("--judge", choices=("substring", "model", "both"), default="both")
    parser.add_argument("--limit", type=int, default=24, help="validation prompts per set")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--out", type=Path, default=POLICY)
    args = parser.parse_args()

    started = time.perf_counter()
    activations = ActivationSet.load(args.run)
    parts = train_conditional_parts(activations)
    policy = parts.policy()
    backend = make_backend(load_model(activations.model.model_id), "nnsight")
    sets = select_prompts(split="val", sets=VALIDATION, limit=args.limit)
    tuning = tune_thresholds(
        backend,
        policy,
        sets,
        AnswerJudge.build(args.judge),
        candidates=BANDS,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
    )
    chosen = {"benign_below": tuning.benign_below, "harmful_above": tuning.harmful_above}
    metadata = {
        **policy.metadata,
        "train_run": args.run.name,
        "tuning": {**chosen, "judge": args.judge, "max_new_tokens": args.max_new_tokens, "n": tuning.n},
    }
    policy.replace(**chosen, metadata=metadata).save(args.out, weights_dtype=torch.float16)

    tuning.save(RESULTS)
    print(tuning.markdown())
    print(f"band {tuning.benign_below:g}/{tuning.harmful_above:g} (feasible: {tuning.feasible}) -> {args.out}")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
