"""A benign energy that also counts safe refusals as desirable, checked on training states.

On the benign route only the probe stands between an attack it misreads and the benign energy, which is
trained on benign prompts alone (false refusal vs helpful) and has never seen a refusal of a harmful
request. The candidate adds the safe refusals of harmful prompts to the desirable states, so that its
gate might leave such a refusal alone. To stand in for an attack the probe has not seen, each harmful
source is held out in turn: the candidate is trained without it and the share of that source's refusals
above each energy's gate is read, with the validation rows of the kept sources to say whether the
candidate still moves false refusals, and towards what the shipped energy calls an answer. Cached
training states of runs/qwen-train at the shipped benign layers; no generation, no test prompt.
Writes results.json beside this file.
"""

import json
from pathlib import Path

import torch

from edshook.interventions import NormConstraint, StepSchedule, descend
from edshook.training import ActivationSet, TrainConfig, train_energies
from edshook.training.trainer import validation_rows

LAYERS = (19, 20, 21)
SCHEDULE = StepSchedule(steps=5, step_size=2.0)

acts = ActivationSet.load("runs/qwen-train")
harmful, desirable = acts.harmful, acts.desirable
sources = [i.split(":")[0] for i in acts.ids]
val = validation_rows(acts.ids, TrainConfig())
shipped = train_energies(acts.subset(~harmful), LAYERS, progress=False)
results = {"layers": list(LAYERS), "held_out": {}}
for held_out in sorted({s for s, h in zip(sources, harmful.tolist(), strict=True) if h}):
    out_rows = torch.tensor([s == held_out for s in sources])
    candidate = train_energies(acts.subset(~out_rows & (~harmful | desirable)), LAYERS, progress=False)
    groups = {
        "false refusal (val)": val & ~harmful & ~desirable,
        "benign helpful (val)": val & ~harmful & desirable,
        "safe refusal, kept sources (val)": val & ~out_rows & harmful & desirable,
        "safe refusal, held-out source": out_rows & desirable,
        "jailbreak, held-out source": out_rows & ~desirable,
    }
    entry = {"n": {name: int(rows.sum()) for name, rows in groups.items()}, "by_layer": {}}
    for layer in LAYERS:
        x = acts.layer(layer).float()
        reference, reference_gate = shipped.energies[layer], shipped.reports[layer].energy_threshold
        row = {}
        for name, trained in (("shipped recipe", shipped), ("with safe refusals", candidate)):
            energy, gate = trained.energies[layer], trained.reports[layer].energy_threshold
            with torch.no_grad():
                above = {k: round(float((energy(x[rows]) > gate).float().mean()), 3) for k, rows in groups.items()}
            moved = descend(energy, x[groups["false refusal (val)"]], SCHEDULE, NormConstraint()).states
            with torch.no_grad():
                still = round(float((reference(moved) > reference_gate).float().mean()), 3)
            row[name] = {"above_gate": above, "false_refusals_above_shipped_gate_after_steps": still}
        entry["by_layer"][str(layer)] = row
    results["held_out"][held_out] = entry
    print(held_out, json.dumps(entry["by_layer"]), flush=True)
out = Path(__file__).with_name("results.json")
out.write_text(json.dumps(results, indent=1) + "\n")
