# %% [markdown]
# # Build your own policy from the objects
#
# `edshook train` turns an activation cache into a policy in one command. This tutorial does the
# same by hand, one object at a time, on the embedded Qwen2.5-Coder-0.5B-Instruct:
#
# 1. answer a sample of the standard train split, judge each answer and cache the residual stream
#    with its label (`collect_labelled`);
# 2. train one energy model (EBM) per layer (`train_energies`) and look at what they learned:
#    validation accuracy by layer, energies of good and bad states, a PCA of the states;
# 3. pick layers with `LayerSelector` and compose `EnergySteering` from `EnergyModel`s, a
#    `StepSchedule` with energy gating, a `NormConstraint` and a `PositionSelector`;
# 4. generate on held-out prompts of the validation split with and without the policy, and follow
#    the energy token by token while it steers;
# 5. build the default conditional policy (`train_conditional`) from the same activations and see
#    where its harmfulness probe sends each prompt.
#
# With `EDSHOOK_FAST=1` everything runs on a few dozen prompts: the code path is the same, the
# figures mean little.

# %%
import os

FAST = os.environ.get("EDSHOOK_FAST") == "1"
N_TRAIN = 40 if FAST else 400  # train-split prompts answered, judged and cached
N_HELD_OUT = 4 if FAST else 12  # validation-split prompts generated with and without the policy
LABEL_TOKENS = 16 if FAST else 48  # answer length for judging (refusals show in the first tokens)
ANSWER_TOKENS = 24 if FAST else 64  # answer length for the before/after comparison
BATCH_SIZE = 20 if FAST else 32

# %%
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import transformers

from edshook.backends import make_backend
from edshook.data import PromptSet, standard_splits
from edshook.interventions import (
    EnergySteering,
    LayerSelector,
    NormConstraint,
    PositionSelector,
    StepSchedule,
)
from edshook.judges import Label, default_judge, label_counts
from edshook.models import load_model
from edshook.training import TrainConfig, collect_labelled, train_conditional, train_energies, validation_rows

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
warnings.filterwarnings("ignore", category=UserWarning)

print("fast mode" if FAST else "full mode")

# %% [markdown]
# ## 1. Labelled activations
#
# `standard_splits` gives train, val and test parts that share no prompt. We answer a sample of
# the train part: half harmful prompts, half benign prompts from OR-Bench-Hard, the benign prompts
# that sound risky and that the model refuses most often, so that every outcome occurs.

# %%
splits = standard_splits()
train, val = splits["train"], splits["val"]


def balanced_sample(prompts: PromptSet, n: int, seed: int = 0) -> PromptSet:
    """n/2 harmful prompts and n/2 benign OR-Bench-Hard prompts, chosen by id hash."""
    harmful = PromptSet("harmful", tuple(p for p in prompts if p.harmful)).sample(n // 2, seed)
    hard = PromptSet("benign", tuple(p for p in prompts if p.source == "or_bench_hard")).sample(n - n // 2, seed)
    return PromptSet.concat(f"{prompts.name}-sample", [hard, harmful])


train_prompts = balanced_sample(train, N_TRAIN)
print({name: len(part) for name, part in splits.items()}, "->", len(train_prompts), "training prompts")

# %% [markdown]
# The model is loaded in bfloat16, as `edshook demo` and the command line do. `collect_labelled`
# answers every prompt greedily, asks the judge whether each answer is a refusal, crosses that with
# the prompt's ground truth into one of four labels, and reads the residual stream at the last
# prompt token at every layer. It writes `answers.jsonl` and the activations into a folder (here a
# temporary one); given the same folder again it resumes instead of answering twice, and
# `ActivationSet.load(folder)` reads the activations back.

# %%
backend = make_backend(load_model("qwen2.5-coder-0.5b-instruct", dtype=torch.bfloat16), "transformer_lens")
judge = default_judge()
with tempfile.TemporaryDirectory(prefix="edshook-tutorial-02-") as run_dir:
    activations = collect_labelled(
        backend, train_prompts, judge, Path(run_dir), max_new_tokens=LABEL_TOKENS, batch_size=BATCH_SIZE, progress=False
    )
print(backend)
print("states:", tuple(activations.states.shape), "(prompt, layer, d_model)")
print("labels:", label_counts(activations.labels))

# %% [markdown]
# ## 2. One energy per layer
#
# `train_energies` trains an `EnergyModel` per layer: desirable states (helpful answer, safe
# refusal) low, undesirable ones (false refusal, jailbreak) high. A fixed share of the prompts,
# chosen by a hash of their id, is held out for validation at every layer; each EBM keeps its best
# validation epoch and a threshold calibrated on the validation energies.

# %%
config = TrainConfig(val_fraction=0.3 if FAST else 0.2)
trained = train_energies(activations, config=config, progress=False)
is_val = validation_rows(activations.ids, config)
print(f"{int((~is_val).sum())} training rows, {int(is_val.sum())} validation rows")
for layer in trained.ranked()[:5]:
    report = trained.reports[layer]
    print(f"layer {layer:2d}: val accuracy {report.val_accuracy:.2f}, AUC {report.val_auc:.2f}, epochs {report.epochs}")

# %% [markdown]
# ### Choosing layers
#
# `LayerSelector` composes two choices here: a depth range (`depth(0.25, 0.75)`, the middle half
# of the model, layers whose relative depth `layer / n_layers` lies in `[0.25, 0.75)`) and the best
# `k` layers in it by validation accuracy (`top_k`; a small AUC term breaks the many ties that a
# handful of validation rows produce).

# %%
candidates = LayerSelector.depth(0.25, 0.75).resolve(backend.n_layers)
scores = {layer: trained.reports[layer].val_accuracy + 1e-3 * trained.reports[layer].val_auc for layer in candidates}
layers = LayerSelector.top_k(scores, k=3).resolve(backend.n_layers)
best = max(layers, key=scores.get)
print("candidates:", candidates)
print("steered layers:", layers, "| best:", best)

# %%
all_layers = sorted(trained.reports)
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(all_layers, [trained.reports[l].val_accuracy for l in all_layers], "o-", label="balanced accuracy")
ax.plot(all_layers, [trained.reports[l].val_auc for l in all_layers], "s--", alpha=0.6, label="AUC")
ax.axvspan(candidates[0] - 0.5, candidates[-1] + 0.5, color="grey", alpha=0.12, label="depth range")
for layer in layers:
    ax.axvline(layer, color="tab:red", lw=1, alpha=0.7)
ax.set(xlabel="layer", ylabel="validation score", title="Per-layer EBM on held-out prompts (red: steered layers)")
ax.set_ylim(0.0, 1.05)
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# ### What the best layer's energy separates
#
# The histograms show the energies of desirable and undesirable states at the best chosen layer,
# separately for the rows the EBM trained on and the validation rows it never saw; the dashed line
# is the threshold calibrated on the validation rows. Only the validation rows measure how well the
# energy generalises (and in fast mode there are only a handful).

# %%
energy_model = trained.energies[best].eval()
with torch.no_grad():
    energies = energy_model(activations.layer(best))
good = activations.desirable
threshold = float(energy_model.threshold)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharex=True)
for ax, rows, title in ((axes[0], ~is_val, "training rows"), (axes[1], is_val, "validation rows")):
    bins = torch.linspace(float(energies.min()), float(energies.max()), 21).tolist()
    ax.hist(energies[rows & good].tolist(), bins=bins, alpha=0.6, label="desirable", color="tab:green")
    ax.hist(energies[rows & ~good].tolist(), bins=bins, alpha=0.6, label="undesirable", color="tab:red")
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set(title=f"layer {best}: {title}", xlabel="energy")
axes[0].set_ylabel("states")
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# A PCA of the same states (`torch.pca_lowrank`), coloured by the four labels, shows how much of
# the label structure lies in the two directions of largest variance. The EBM is not limited to
# them: it is a nonlinear function of the whole (layer-normalised) state.

# %%
states = activations.layer(best)
_, _, components = torch.pca_lowrank(states, q=2, center=True)
projected = (states - states.mean(0)) @ components
colours = {
    Label.HELPFUL: "tab:green",
    Label.SAFE_REJECT: "tab:blue",
    Label.FALSE_REFUSAL: "tab:orange",
    Label.JAILBREAK: "tab:red",
}
fig, ax = plt.subplots(figsize=(5.5, 4.5))
for lab, colour in colours.items():
    rows = [i for i, l in enumerate(activations.labels) if l == lab]
    if rows:
        ax.scatter(projected[rows, 0], projected[rows, 1], s=18, c=colour, label=f"{lab.value} ({len(rows)})")
ax.set(xlabel="PC 1", ylabel="PC 2", title=f"Residual stream at layer {best}, last prompt token")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. Composing the policy
#
# `EnergySteering` takes one energy per layer and four settings:
#
# - `StepSchedule(steps, step_size, gated=True)`: K normalised gradient steps; with gating a state
#   whose energy is already below its layer's calibrated threshold is not moved, and a moving one
#   stops once it gets there;
# - `NormConstraint(max_relative_move=...)`: the total move is at most that fraction of the
#   state's norm;
# - `PositionSelector(prompt="last", generated=True)`: the last prompt token and every generated one;
# - `model=backend.spec`: attaching the policy to another model is an error.
#
# The step size is a distance in the residual stream, so compare it with the norm of the states.

# %%
norms = activations.layer(best).norm(dim=-1)
print(f"state norm at layer {best}: median {norms.median():.1f}")
policy = EnergySteering(
    {layer: trained.energies[layer] for layer in layers},
    schedule=StepSchedule(steps=5, step_size=2.0, gated=True),
    constraint=NormConstraint(max_relative_move=0.25),
    positions=PositionSelector(prompt="last", generated=True),
    model=backend.spec,
)
print("layers:", policy.layers, "| thresholds:", {layer: round(policy.threshold(layer), 3) for layer in policy.layers})
print(policy.schedule, policy.constraint, policy.positions, sep="\n")

# %% [markdown]
# ## 4. Held-out prompts, before and after
#
# The held-out prompts come from the validation split, so the EBMs never saw them. The judge
# labels each answer before and after steering.

# %%
held_out = balanced_sample(val, N_HELD_OUT)
texts = list(held_out.texts)
before = backend.generate(texts, max_new_tokens=ANSWER_TOKENS, batch_size=BATCH_SIZE, progress=False)
with backend.steer(policy):
    after = backend.generate(texts, max_new_tokens=ANSWER_TOKENS, batch_size=BATCH_SIZE, progress=False)
refused_before, refused_after = judge(before, texts), judge(after, texts)
for prompt, b, a, rb, ra in zip(held_out, before, after, refused_before, refused_after):
    kind = "harmful" if prompt.harmful else "benign"
    print(f"[{kind}] {prompt.text}")
    print(f"   before ({'refused' if rb else 'answered'}): {b!r}")
    print(f"   after  ({'refused' if ra else 'answered'}): {a!r}\n")

# %% [markdown]
# One energy trained on "helpful and safe refusal are good, false refusal and jailbreak are bad"
# tends to learn mostly the difference between refusing and answering, so besides pulling wrongly
# refused benign prompts towards an answer it can push harmful prompts the same way: compare the
# harmful prompts above. The conditional policy at the end of this tutorial separates the two jobs.
#
# ### The energy, token by token
#
# `backend.steer(policy, record=True)` returns a handle whose `trace.records` hold, for every
# steered state, the layer, the phase (`prefill` for the last prompt token, `decode` for generated
# tokens), the token index, the energy before and after the descent and the number of steps taken.
# A copy of the policy with one step of size zero (`policy.replace(...)`) moves nothing, so it
# records the energy of the unsteered generation for comparison. One prompt per call keeps the
# records' `row` equal to 0 (`row` is the row within a batch, and batches are sorted by prompt
# length). "Before descent" at a layer already includes what the earlier steered layers did to
# that token.

# %%
benign_refused = [i for i, p in enumerate(held_out) if not p.harmful and refused_before[i]]
traced = texts[(benign_refused or [0])[0]]
monitor = policy.replace(schedule=StepSchedule(steps=1, step_size=0.0))
with backend.steer(monitor, record=True) as unsteered:
    backend.generate([traced], max_new_tokens=ANSWER_TOKENS, progress=False)
with backend.steer(policy, record=True) as steered:
    backend.generate([traced], max_new_tokens=ANSWER_TOKENS, progress=False)
print("records:", len(steered.trace.records), "| first:", steered.trace.records[0])


def energy_by_token(records, layer, field):
    rows = sorted((r.step, getattr(r, field)) for r in records if r.layer == layer)
    return [step for step, _ in rows], [value for _, value in rows]


fig, ax = plt.subplots(figsize=(8, 3.5))
for records, field, style, colour, label in (
    (unsteered.trace.records, "energy_before", "o-", "grey", "unsteered"),
    (steered.trace.records, "energy_before", "^-", "tab:red", "steered, before descent"),
    (steered.trace.records, "energy_after", "v-", "tab:green", "steered, after descent"),
):
    ax.plot(*energy_by_token(records, best, field), style, c=colour, label=label)
ax.axhline(policy.threshold(best), color="k", ls="--", lw=1, label="threshold (gate)")
ax.set(xlabel="token (0: last prompt token, then generated tokens)", ylabel=f"energy at layer {best}")
ax.set_title(traced[:70] + ("…" if len(traced) > 70 else ""), fontsize=9)
ax.legend(fontsize=8)
plt.show()
moved = sum(r.n_steps > 0 for r in steered.trace.records)
print(f"{moved} of {len(steered.trace.records)} states were above the threshold and moved (gating)")

# %% [markdown]
# ## 5. The default: a conditional policy
#
# `train_conditional` trains three parts from the same activations: a linear probe of the prompt's
# ground truth (harmful or not), an energy of false refusal against helpful answer on the benign
# prompts (descent moves towards answering) and an energy of jailbreak against safe refusal on the
# harmful ones (descent moves towards refusing). `ConditionalSteering` reads the probe at the last
# prompt token and routes each prompt to one of the two. If the model answered no harmful training
# prompt there is no harmful energy, and harmful prompts are left alone.
#
# The probe's scores for the held-out prompts come from `backend.collect` at the probe's layer.
# (After a `generate` call, `conditional.last_scores` also holds the scores of its last batch, in
# that batch's order, which is sorted by prompt length.)

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", RuntimeWarning)
    conditional = train_conditional(activations, k=3, config=config, progress=False)
for warning in caught:
    print("note:", warning.message)
parts = {"benign": conditional.benign, "harmful": conditional.harmful}
probe_report = conditional.metadata["probe"]
print(f"probe at layer {conditional.probe.layer} (validation accuracy {probe_report['val_accuracy']:.2f})")
print(", ".join(f"{name} energy at {part.layers}" if part else f"no {name} energy" for name, part in parts.items()))
probe_states = backend.collect(texts, layers=[conditional.probe.layer], progress=False)[:, 0]
p_harmful = conditional.probe.probability(probe_states)
with backend.steer(conditional):
    routed = backend.generate(texts, max_new_tokens=ANSWER_TOKENS, batch_size=BATCH_SIZE, progress=False)
for prompt, p, answer in zip(held_out, p_harmful.tolist(), routed):
    route = "harmful energy" if p > conditional.threshold else "benign energy"
    if route == "harmful energy" and conditional.harmful is None:
        route = "left alone"
    truth = "harmful" if prompt.harmful else "benign"
    print(f"P(harmful)={p:.2f} [{truth:7s}] -> {route:14s} | {prompt.text[:60]!r}\n   {answer!r}")
