"""Does the recipe, run on a fresh collect, route the test prompts as the shipped policy does?

    edshook collect --split train --out runs/qwen-train      # a fresh collect (bfloat16 on this CPU)
    edshook train runs/qwen-train --out runs/qwen-default
    python benchmarks/results/default_policy/fresh_collect.py runs/qwen-default

Scores the 700 test prompts behind the headline tables (100 per test set, 50 per jailbreak set) with
the shipped probe and with the retrained one, and counts the prompts whose route at the shipped band
differs; writes fresh_collect.json beside this script. No generation.
"""

import argparse
import collections
import json
from pathlib import Path

from torch import Tensor

from edshook.backends import make_backend
from edshook.evaluation import read_answers
from edshook.interventions import ConditionalSteering, load_policy
from edshook.models import load_model

RESULTS = Path(__file__).resolve().parents[1]
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("retrained", help="a conditional policy trained by the recipe on a fresh collect")
args = parser.parse_args()
backend = make_backend(load_model(), "nnsight")
shipped = load_policy("default", model=backend.spec)
retrained = load_policy(args.retrained, model=backend.spec)
prompts = {}
for folder in ("test100/benign", "test100/base_harmful", "jailbreak50/base"):
    for row in read_answers(RESULTS / folder / "answers.jsonl.gz"):
        if row["method"] == "base":
            prompts[(row["set"], row["id"])] = row["prompt"]
keys = list(prompts)


layers = sorted(set(shipped.probe.layers) | set(retrained.probe.layers))
states = backend.collect([prompts[k] for k in keys], layers, batch_size=8, progress=True)


def scores(policy: ConditionalSteering) -> Tensor:
    """The probability of each prompt under ``policy``'s probe, read at that probe's own layers."""
    return policy.probe.probability(states[:, [layers.index(layer) for layer in policy.probe.layers]])


ours, theirs = shipped.route(scores(shipped)), shipped.route(scores(retrained))  # both at the shipped band
moved = (ours.benign != theirs.benign) | (ours.harmful != theirs.harmful)
differ = [k for k, m in zip(keys, moved.tolist(), strict=True) if m]
result = {
    "retrained": args.retrained,
    "band": [shipped.benign_below, shipped.harmful_above],
    "prompts": len(keys),
    "same_route": len(keys) - len(differ),
    "differ_by_set": dict(collections.Counter(name for name, _ in differ)),
    "layers": {
        "shipped": {"probe": list(shipped.probe.layers), "benign": list(shipped.benign.layers),
                    "harmful": list(shipped.harmful.layers)},
        "retrained": {"probe": list(retrained.probe.layers), "benign": list(retrained.benign.layers),
                      "harmful": list(retrained.harmful.layers)},
    },
}  # fmt: skip
(Path(__file__).parent / "fresh_collect.json").write_text(json.dumps(result, indent=1) + "\n")
print(json.dumps(result, indent=1))
