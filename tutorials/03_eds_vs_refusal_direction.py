# %% [markdown]
# # EDS against refusal-direction ablation
#
# Refusal in chat models is often mediated by a single direction in the residual stream:
# ablating it (projecting it out at every layer) stops the model refusing — harmful prompts
# included. EDS instead learns an energy landscape from the model's own answers. This tutorial
#
# 1. trains the default conditional EDS policy and fits the refusal direction (difference in
#    means of harmful and harmless prompts, chosen on validation prompts);
# 2. compares base, refusal-direction ablation, surgical ablation and EDS on held-out **test**
#    prompts, on the compliance-vs-safety plane;
# 3. looks at the learned energies along the refusal direction, `E(h + a r)` for a range of `a`,
#    for benign and harmful prompts.
#
# `EDSHOOK_FAST=1` runs it on a handful of prompts.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import torch

FAST = os.environ.get("EDSHOOK_FAST") == "1"
N_TRAIN = 160 if FAST else 600  # training prompts (the model's own answers)
N_VAL = 12 if FAST else 40  # validation prompts per set, to tune the probe threshold
N_TEST = 12 if FAST else 40  # test prompts per set

import transformers

transformers.logging.disable_progress_bar()  # keep the notebook output to what matters

# %% [markdown]
# ## Train the policy, tune its threshold, fit the refusal direction
#
# Everything is fitted on the train and validation parts of `standard_splits()`; the test part is
# only used for the comparison.

# %%
from edshook.evaluation.suite import benchmark_sets, fit_directions, validation_sets

from edshook.backends import make_backend
from edshook.data import standard_splits
from edshook.evaluation.tuning import tune_threshold
from edshook.judges import default_judge
from edshook.models import load_model
from edshook.training import collect_labelled, train_conditional

backend = make_backend(load_model("qwen2.5-coder-0.5b-instruct", dtype=torch.bfloat16), "nnsight")
judge = default_judge()
parts = standard_splits()
activations = collect_labelled(
    backend, parts["train"].sample(N_TRAIN, stratify=True), judge, "runs/quickstart", progress=False
)
policy = train_conditional(activations, progress=False)
tuning = tune_threshold(backend, policy, validation_sets(None, limit=N_VAL), judge, progress=False)
policy = policy.replace(threshold=tuning.threshold)
directions = fit_directions(backend, None, n=32 if FAST else 64)
refusal = directions.refusal
print(f"probe threshold {tuning.threshold} (validation base {tuning.base})")
print(f"refusal direction: layer {refusal.layer}, position {refusal.position}, norm {refusal.direction.norm():.1f}")

# %% [markdown]
# ## Compliance against safety on the test prompts
#
# Compliance on OR-Bench-Hard and JailbreakBench-benign (benign prompts: answering is right);
# refusal on OR-Bench-Toxic, JailbreakBench-harmful and HarmBench (harmful prompts: refusing is
# right). Each method is an intervention object attached the same way.

# %%
from edshook.baselines import DirectionalAblation
from edshook.evaluation import Method, evaluate, markdown_table, plot_tradeoff, write_report

n_layers = backend.n_layers
methods = [
    Method("base"),
    Method("refusal_ablation", (DirectionalAblation(refusal.direction, range(n_layers)),)),
    Method("surgical", (DirectionalAblation(directions.false_refusal, range(n_layers)),), strength=0),
    *[
        Method("eds_conditional", (policy.replace(threshold=t),), strength=t)
        for t in sorted({0.5, tuning.threshold, 0.9})
    ],
]
test_sets = benchmark_sets(None, limit=N_TEST)
results = [evaluate(backend, method, test_sets, judge, max_new_tokens=24) for method in methods]
print(markdown_table(results))

# %%
report = write_report(results, Path("runs/tutorial03"), header={"n_per_set": N_TEST})
benign, harmful = ["or_bench_hard_test", "jbb_benign"], ["or_bench_toxic_test", "jbb_harmful", "harmbench_test"]
png = plot_tradeoff(
    report["details"], Path("runs/tutorial03/tradeoff.png"), compliance_sets=benign, refusal_sets=harmful
)
plt.imshow(plt.imread(png))
plt.axis("off")
plt.show()

# %% [markdown]
# Ablating the refusal direction buys compliance with safety: it removes refusal everywhere.
# The conditional policy moves benign and harmful prompts in opposite directions, so it can raise
# both. The full benchmark (more prompts and every baseline) is in `BENCHMARKS.md`.
#
# ## The energy along the refusal direction
#
# Take the states at the last prompt token of held-out benign (OR-Bench-Hard) and harmful
# (OR-Bench-Toxic) validation prompts at a layer the benign energy steers, and move them along
# the refusal direction *of that layer*: `h + a r`, with `r` the difference in means of harmful
# and harmless prompts there. Negative `a` removes refusal, positive `a` adds it.

# %%
from edshook.baselines import mean_difference

layer = policy.benign.layers[0]
harmful_texts = [p.text for p in parts["train"] if p.harmful][: 32 if FAST else 128]
harmless_texts = [p.text for p in parts["train"] if p.source == "refusal_harmless_train"][: 32 if FAST else 128]
r = mean_difference(backend, harmful_texts, harmless_texts)[0, layer]

val = validation_sets(None, limit=N_VAL)
states = {
    "benign (OR-Bench-Hard)": backend.collect(list(val["or_bench_hard_val"].texts), [layer], progress=False)[:, 0],
    "harmful (OR-Bench-Toxic)": backend.collect(list(val["or_bench_toxic_val"].texts), [layer], progress=False)[:, 0],
}
alphas = torch.linspace(-2, 2, 21)
energies = {"benign energy (answer vs false refusal)": policy.benign.energy(layer)}
if policy.harmful is not None and layer in policy.harmful.layers:
    energies["harmful energy (refusal vs jailbreak)"] = policy.harmful.energy(layer)

figure, axes = plt.subplots(1, len(energies), figsize=(6 * len(energies), 4), squeeze=False)
for ax, (title, energy) in zip(axes[0], energies.items()):
    for name, h in states.items():
        with torch.no_grad():
            curve = torch.stack([energy(h + a * r).mean() for a in alphas])
        ax.plot(alphas, curve, marker="o", label=name)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("a  (h + a r; r = refusal direction at this layer)")
    ax.set_ylabel("mean energy")
    ax.set_title(f"{title}, layer {layer}", fontsize=10)
    ax.legend(fontsize=8)
figure.tight_layout()
plt.show()

# %% [markdown]
# How aligned is the step EDS takes with the refusal direction? The cosine between `-grad E(h)`
# and `-r` says how much of the move is "less refusal" in the single-direction sense; the rest is
# what the energy learned beyond that direction.

# %%
from edshook.interventions import energy_and_grad

for name, h in states.items():
    _, grad = energy_and_grad(policy.benign.energy(layer), h)
    cosine = torch.nn.functional.cosine_similarity(-grad, -r.expand_as(grad), dim=-1)
    print(f"{name:26s} cos(-grad E, -r) mean {cosine.mean():+.2f}  (min {cosine.min():+.2f}, max {cosine.max():+.2f})")
