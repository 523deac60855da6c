"""Make the policy shipped as ``load_policy("default")`` for Qwen2.5-Coder-0.5B-Instruct: ``edshook train``
then ``edshook tune``, with their defaults, and pack the result.

The same as these commands, which a user can run to get the same policy:

    edshook collect --split train --out runs/qwen-train
    edshook train runs/qwen-train --out runs/qwen-default
    edshook tune runs/qwen-default --judge both --limit 48 --batch-size 24

    python benchmarks/default_policy.py --run runs/qwen-train

``tune`` chooses the probe band on the validation parts of ``VALIDATION_SOURCES`` (benign-but-scary,
plain harmless and harmful prompts), never a test prompt. The policy is then written with float16
weights into ``edshook/policies/qwen2.5-coder-0.5b-instruct/`` and the tuning record (``tuning.md``
with every candidate band, ``tuning.json``, ``answers.jsonl`` with every verdict) is copied into
``benchmarks/results/default_policy/tune<limit>/``. 48 prompts per set: on 24 the chosen band moved
with the count of a single answer (BENCHMARKS.md, "The shipped policy's tuning").
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch

from edshook.cli.options import JudgeName
from edshook.cli.pipeline import train, tune
from edshook.interventions import ConditionalSteering
from edshook.policies import SHIPPED_POLICIES

POLICY = Path(__file__).resolve().parents[1] / "edshook" / "policies" / SHIPPED_POLICIES["default"]
RESULTS = Path(__file__).resolve().parent / "results" / "default_policy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a collect run of the train split")
    parser.add_argument("--work", type=Path, default=Path("runs/qwen-default"), help="where train and tune write")
    parser.add_argument("--judge", choices=[j.value for j in JudgeName], default="both")
    parser.add_argument("--limit", type=int, default=48, help="validation prompts per set")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--out", type=Path, default=POLICY)
    args = parser.parse_args()

    started = time.perf_counter()
    train(args.run, out=args.work)
    tune(
        args.work,
        judge=JudgeName(args.judge),
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
    )
    policy = ConditionalSteering.load(args.work)
    policy.replace(metadata={**policy.metadata, "train_run": args.run.name}).save(args.out, weights_dtype=torch.float16)
    record = RESULTS / f"tune{args.limit}"
    shutil.copytree(args.work / "tuning", record, dirs_exist_ok=True)
    print(f"{args.work} -> {args.out} (float16); tuning record -> {record}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
