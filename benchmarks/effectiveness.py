"""EDS against the baselines on an embedded model: compliance on benign sets, refusal on harmful ones.

Writes benchmarks/results/<name>.json (the report), <name>.md (the table) and <name>.png (the
compliance-vs-safety plot). The EDS policies are trained beforehand on the standard train split and
tuned on its validation split, never on a test part:

    edshook collect --split train --data-dir DATA --out runs/qwen-train
    edshook train runs/qwen-train --out runs/qwen-policy                      # conditional (default)
    edshook tune runs/qwen-policy --data-dir DATA                             # probe threshold on val
    edshook train runs/qwen-train --out runs/qwen-single --kind single        # the single-energy recipe
    python benchmarks/effectiveness.py --policy runs/qwen-policy --reference runs/qwen-single \
        --data-dir DATA --limit 100
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch
from edshook.evaluation.suite import benchmark_sets, compare

from edshook.backends import make_backend
from edshook.interventions import EnergySteering, load_policy
from edshook.judges import default_judge
from edshook.models import DEFAULT_MODEL, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--reference", type=Path, default=None, help="A single-energy policy to sweep as well.")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--backend", default="nnsight")
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="*",
        default=[0.35, 0.5, 0.8, 0.9],
        help="Probe thresholds to sweep besides the policy's own.",
    )
    parser.add_argument(
        "--methods", nargs="*", default=None, help="Run only these methods (e.g. base eds_conditional)."
    )
    parser.add_argument("--limit", type=int, default=None, help="Sample this many prompts per set.")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--harmless", type=int, default=48, help="Harmless prompts for KL and perplexity.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--name", default="effectiveness")
    args = parser.parse_args()
    backend = make_backend(load_model(args.model, dtype=torch.bfloat16), args.backend)
    command = "python benchmarks/effectiveness.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
        if v is not None and k not in ("out", "name")
    )
    with tempfile.TemporaryDirectory() as scratch:
        report = compare(
            backend,
            load_policy(args.policy, model=backend.spec),
            benchmark_sets(args.data_dir, limit=args.limit),
            default_judge(),
            Path(scratch),
            data_dir=args.data_dir,
            thresholds=args.thresholds,
            only=args.methods,
            reference=None if args.reference is None else EnergySteering.load(args.reference, model=backend.spec),
            harmless=args.harmless,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            header={
                "model": args.model,
                "judge": "default substring judge",
                "dtype": "bfloat16",
                "backend": args.backend,
                "command": command,
            },
        )
        args.out.mkdir(parents=True, exist_ok=True)
        for source, suffix in (("report.json", "json"), ("report.md", "md"), ("tradeoff.png", "png")):
            shutil.copyfile(Path(scratch) / source, args.out / f"{args.name}.{suffix}")
    print(json.dumps(report["summary"], indent=2))
    print(f"wall time {report['wall_seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
