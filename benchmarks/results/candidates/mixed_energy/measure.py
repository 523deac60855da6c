"""A harmful energy that also counts benign helpful answers as desirable, checked on validation states.

The hope: such an energy stays low on benign twins the probe sends to the harmful part, so its gate
leaves them alone. Measured on the cached training activations (runs/qwen-train), validation rows only,
at the harmful part's layers of the shipped policy; no generation. Writes results.json beside this file.
"""

import json
from pathlib import Path

import torch

from edshook.interventions import NormConstraint, StepSchedule, descend
from edshook.training import ActivationSet, TrainConfig, train_energies
from edshook.training.trainer import validation_rows

LAYERS = (20, 21, 23)
SCHEDULE = StepSchedule(steps=5, step_size=2.0)

acts = ActivationSet.load("runs/qwen-train")
harmful, desirable = acts.harmful, acts.desirable
energies = {
    "refusal (shipped recipe)": train_energies(acts.subset(harmful), LAYERS, progress=False),
    "refusal + benign helpful": train_energies(acts.subset(harmful | (~harmful & desirable)), LAYERS, progress=False),
}
val = validation_rows(acts.ids, TrainConfig())
groups = {
    "jailbreak": val & harmful & ~desirable,
    "safe refusal": val & harmful & desirable,
    "benign helpful": val & ~harmful & desirable,
}


results = {"layers": list(LAYERS), "n_validation": {k: int(v.sum()) for k, v in groups.items()}, "by_layer": {}}
reference = energies["refusal (shipped recipe)"]
for layer in LAYERS:
    x = acts.layer(layer).float()
    row = {}
    for name, trained in energies.items():
        energy, gate = trained.energies[layer], trained.reports[layer].energy_threshold
        with torch.no_grad():
            above = {k: round(float((energy(x[rows]) > gate).float().mean()), 3) for k, rows in groups.items()}
        moved = descend(energy, x[groups["jailbreak"]], SCHEDULE, NormConstraint()).states
        ref, ref_gate = reference.energies[layer], reference.reports[layer].energy_threshold
        with torch.no_grad():
            still_jailbreak = round(float((ref(moved) > ref_gate).float().mean()), 3)
        row[name] = {"above_gate": above, "jailbreak_states_above_refusal_gate_after_steps": still_jailbreak}
    h = x[groups["jailbreak"]]
    pair = []
    for trained in energies.values():
        z = h.clone().requires_grad_(True)
        pair.append(torch.autograd.grad(trained.energies[layer](z).sum(), z)[0])
    row["gradient_cosine_at_jailbreak_states"] = round(float(torch.cosine_similarity(*pair).mean()), 3)
    results["by_layer"][str(layer)] = row
out = Path(__file__).with_name("results.json")
out.write_text(json.dumps(results, indent=1) + "\n")
print(json.dumps(results, indent=1))
