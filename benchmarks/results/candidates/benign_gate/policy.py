"""The shipped policy with its benign part replaced by the candidate of measure.py, for generation runs.

The candidate's energies are trained on every source of runs/qwen-train, benign prompts plus the safe
refusals of harmful ones, at the shipped benign layers with the shipped schedule, constraint and
positions; the probe, its band and the harmful part are the shipped ones.

    python benchmarks/results/candidates/benign_gate/policy.py runs/benign-gate
    edshook eval --policy runs/benign-gate --split val --sets or_bench_hard,or_bench_80k_retain,\
refusal_harmless_train,or_bench_toxic,advbench --limit 24 --judge both --harmless 0 --out ...
"""

import sys

from edshook.interventions import load_policy
from edshook.training import ActivationSet, train_energies

acts = ActivationSet.load("runs/qwen-train")
shipped = load_policy("default", model=acts.model)
trained = train_energies(acts.subset(~acts.harmful | acts.desirable), shipped.benign.layers, progress=False)
benign = shipped.benign
candidate = trained.policy(
    len(benign.layers),
    schedule=benign.schedule,
    constraint=benign.constraint,
    positions=benign.positions,
    activations=acts,
)
shipped.replace(benign=candidate).save(sys.argv[1])
print(candidate.describe(), candidate.gates)
