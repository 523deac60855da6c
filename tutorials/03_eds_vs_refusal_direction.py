# %% [markdown]
# # EDS against refusal-direction ablation
#
# Refusal in chat models is often mediated by a single direction in the residual stream:
# ablating it (projecting it out at every layer) stops the model refusing, harmful prompts
# included. EDS instead learns an energy landscape from the model's own answers. This tutorial
#
# 1. fits the refusal direction (difference in means of harmful and harmless prompts, chosen on
#    validation prompts) and the false-refusal direction of surgical ablation;
# 2. compares the base model, refusal-direction ablation, surgical ablation and the shipped EDS
#    policy on held-out **test** prompts, on the helpfulness-vs-safety plane;
# 3. looks at the learned energies along the refusal direction, `E(h + a r)` for a range of `a`.
#
# `EDSHOOK_FAST=1` runs it on a handful of prompts; every claim the text makes is checked below
# (those about the comparison in full mode only).

# %%
import os

import matplotlib.pyplot as plt
import torch
import transformers
from IPython.display import Image, Markdown, display

FAST = os.environ.get("EDSHOOK_FAST") == "1"
N_DIRECTION = 16 if FAST else 64  # prompts per class for the difference in means
N_TEST = 6 if FAST else 40  # test prompts per set
TOKENS = 24 if FAST else 64

transformers.logging.disable_progress_bar()  # keep the notebook output to what matters

# %% [markdown]
# ## The directions and the policy
#
# Everything is fitted on the train and validation parts of `standard_splits()`; the test part is
# only used for the comparison. The EDS policy is the one edshook ships for this model.

# %%
from edshook.backends import make_backend
from edshook.evaluation import fit_directions
from edshook.interventions import load_policy
from edshook.models import load_model

backend = make_backend(load_model(), "nnsight")
policy = load_policy("default", model=backend.spec)
directions = fit_directions(backend, None, n=N_DIRECTION, progress=False)
refusal = directions.refusal
print(policy.describe())
print(f"refusal direction: layer {refusal.layer}, position {refusal.position}, norm {refusal.direction.norm():.1f}")

# %% [markdown]
# ## Helpfulness against safety on the test prompts
#
# Benign sets: OR-Bench-Hard (prompts that sound risky) and JailbreakBench-benign (benign twins of
# harmful requests): answering is right. Harmful sets: OR-Bench-Toxic, JailbreakBench-harmful and
# HarmBench: refusing is right. Each method is an intervention object attached the same way, and
# the substring judge reads the answers (`edshook compare --judge model` adds the model judge).

# %%
from pathlib import Path

from edshook.baselines import DirectionalAblation
from edshook.data import BENCHMARK_SOURCES, select_prompts
from edshook.evaluation import Method, evaluate, markdown_table, write_report
from edshook.judges import AnswerJudge

n_layers = backend.n_layers
methods = [
    Method("base"),
    Method("refusal_ablation", (DirectionalAblation(refusal.direction, range(n_layers)),)),
    Method("surgical", (DirectionalAblation(directions.false_refusal, range(n_layers)),)),
    Method("eds_default", (policy,)),
]
test_sets = select_prompts(split="test", sets=BENCHMARK_SOURCES, limit=N_TEST)
results = [evaluate(backend, method, test_sets, AnswerJudge(), max_new_tokens=TOKENS) for method in methods]
display(Markdown(markdown_table(results)))

# %%
from edshook.evaluation import plot_tradeoff

report = write_report(results, Path("runs/tutorial03"), header={"n_per_set": N_TEST})
benign, harmful = ["or_bench_hard_test", "jbb_benign"], ["or_bench_toxic_test", "jbb_harmful", "harmbench_test"]
png = plot_tradeoff(report["methods"], Path("runs/tutorial03/tradeoff.png"), benign=benign, harmful=harmful)
display(Image(str(png)))


# %%
def mean_rate(result, names):
    return sum(result.sets[name].headline.rate for name in names) / len(names)


by_name = {result.method.name: result for result in results}
for name, result in by_name.items():
    print(
        f"{name:17s} helpful on benign sets {mean_rate(result, benign):.2f}, "
        f"refusal on harmful sets {mean_rate(result, harmful):.2f}"
    )

# %% [markdown]
# Ablating the refusal direction lowers refusal on the harmful sets too: it removes the model's
# refusals, not only the wrong ones. The shipped EDS policy is meant to move each kind of prompt its
# own way. Its change against the base model, set by set, in points (computed from the table above):

# %%
base_rates = {name: by_name["base"].sets[name].headline.rate for name in benign + harmful}
eds_rates = {name: by_name["eds_default"].sets[name].headline.rate for name in benign + harmful}
changes = [f"{name} {100 * (eds_rates[name] - base_rates[name]):+.1f}" for name in benign + harmful]
print("eds_default - base:", ", ".join(changes))

# %% [markdown]
# Read it with the intervals of the table: with 40 prompts per set a difference of less than about
# 20 points can be noise, and every change here is smaller than that. [Benchmarks](../benchmarks.md)
# has the comparison read by the model judge on more prompts. There, at 100 prompts per set, the
# shipped policy answers 79% of OR-Bench-Hard against base's 68% and refuses more of every harmful
# set, but loses 6 points on JailbreakBench-benign, whose prompts are benign twins of harmful
# requests: the probe scores most of them as harmful and sends them to the energy that steers
# towards refusing. On three of the four jailbreak sets it gives more harmful help than base.

# %%
if not FAST:  # a handful of prompts per set cannot carry these claims
    assert mean_rate(by_name["refusal_ablation"], harmful) < mean_rate(by_name["base"], harmful)
    assert all(abs(eds_rates[name] - base_rates[name]) < 0.2 for name in benign + harmful), changes

# %% [markdown]
# ## The energy along the refusal direction
#
# Take the states at the last prompt token of benign (OR-Bench-Hard) and harmful (OR-Bench-Toxic)
# validation prompts at the first layer the benign energy steers, and move them along the refusal
# direction *of that layer*: `h + a r`, with `r` the difference in means of harmful and harmless
# prompts there. Negative `a` removes refusal, positive `a` adds it.

# %%
from edshook.baselines import mean_difference
from edshook.data import PromptSet, standard_splits

layer = policy.benign.layers[0]
train = standard_splits()["train"]
harmful_texts = list(PromptSet("h", tuple(p for p in train if p.harmful)).sample(N_DIRECTION).texts)
harmless_texts = list(
    PromptSet("a", tuple(p for p in train if p.source == "refusal_harmless_train")).sample(N_DIRECTION).texts
)
r = mean_difference(backend, harmful_texts, harmless_texts)[0, layer]

val = select_prompts(split="val", sets=("or_bench_hard", "or_bench_toxic"), limit=N_DIRECTION)
states = {
    "benign (OR-Bench-Hard)": backend.collect(list(val["or_bench_hard_val"].texts), [layer], progress=False)[:, 0],
    "harmful (OR-Bench-Toxic)": backend.collect(list(val["or_bench_toxic_val"].texts), [layer], progress=False)[:, 0],
}
alphas = torch.linspace(-2, 2, 21)
energies = {"benign energy (false refusal high)": policy.benign.energy(layer)}
if policy.harmful is not None and layer in policy.harmful.layers:
    energies["harmful energy (jailbreak high)"] = policy.harmful.energy(layer)

figure, axes = plt.subplots(1, len(energies), figsize=(6 * len(energies), 4), squeeze=False)
curves = {}
for ax, (title, energy) in zip(axes[0], energies.items(), strict=False):
    for name, h in states.items():
        with torch.no_grad():
            curves[title, name] = torch.stack([energy(h + a * r).mean() for a in alphas])
        ax.plot(alphas, curves[title, name], marker="o", label=name)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("a  (h + a r; r = refusal direction at this layer)")
    ax.set_ylabel("mean energy")
    ax.set_title(f"{title}, layer {layer}", fontsize=10)
    ax.legend(fontsize=8)
figure.tight_layout()
plt.show()

# %% [markdown]
# The benign energy rises as refusal is added (`a > 0`) for benign prompts: it has learned, among
# other things, that more of the refusal direction means a false refusal.

# %%
benign_curve = curves["benign energy (false refusal high)", "benign (OR-Bench-Hard)"]
assert benign_curve[-1] > benign_curve[len(alphas) // 2], "adding refusal raises the benign energy"

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
