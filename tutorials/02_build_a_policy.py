# %% [markdown]
# # Build your own policy from the objects
#
# `edshook collect` and `edshook train` turn prompts into a policy in two commands. This tutorial
# does the same by hand, one object at a time, on the embedded Qwen2.5-Coder-0.5B-Instruct:
#
# 1. answer a sample of the standard train split, judge each answer and keep the residual stream
#    with its label (`collect_labelled`);
# 2. train one energy model (EBM) per layer (`train_energies`) and look at what they learned:
#    validation accuracy by layer, the energies of good and bad states and the calibrated gate;
# 3. choose layers with `LayerSelector` and compose `EnergySteering` from the trained
#    `EnergyModel`s, their gates, a `StepSchedule`, a `NormConstraint` and a `PositionSelector`;
# 4. measure it on held-out prompts of the validation split and follow the energy token by token
#    while it steers;
# 5. build a conditional policy from the same activations (`train_conditional_parts`) and see
#    where its harmfulness probe sends each prompt.
#
# With `EDSHOOK_FAST=1` everything runs on a few dozen prompts: the code path is the same, the
# figures mean little. Every number the text states is computed below: checked with an `assert`,
# or, for what steering did to the refusal score, put into words by the code from the measured
# values.

# %%
import os
import textwrap
from pathlib import Path

FAST = os.environ.get("EDSHOOK_FAST") == "1"
N_TRAIN = 48 if FAST else 400  # train-split prompts answered, judged and kept with their states
N_HELD_OUT = 16 if FAST else 80  # validation-split prompts scored with and without each policy
N_SHOWN = 2 if FAST else 3  # of those, per kind (benign, harmful), prompts answered in full
LABEL_TOKENS = 16 if FAST else 48  # answer length for judging (refusals show in the first tokens)
ANSWER_TOKENS = 32 if FAST else 64  # answer length of the answers shown
BATCH_SIZE = 16 if FAST else 32
RUN = Path("runs") / ("tutorial02-fast" if FAST else "tutorial02")  # answers and activations

import matplotlib.pyplot as plt
import torch
import transformers
from IPython.display import Markdown, display

transformers.logging.disable_progress_bar()  # keep the output to what matters


def wrap(text: str, indent: str = "    ") -> str:
    """An answer as wrapped text."""
    return textwrap.indent(textwrap.fill(text or "(empty)", 92), indent)


print("fast mode" if FAST else "full mode")

# %% [markdown]
# ## 1. Labelled activations
#
# `standard_splits()` reads the prompt sets from `$EDSHOOK_DATA` and gives train, val and test
# parts that share no prompt. We answer a sample of the train part: half harmful prompts, half
# benign prompts from OR-Bench-Hard, benign prompts that sound risky and that the model refuses
# most often, so that both good and bad outcomes occur among the benign prompts.

# %%
from edshook.data import PromptSet, standard_splits

splits = standard_splits()
train, val = splits["train"], splits["val"]


def balanced_sample(prompts: PromptSet, n: int, seed: int = 0) -> PromptSet:
    """n/2 benign OR-Bench-Hard prompts, then n/2 harmful prompts, chosen by id hash."""
    harmful = PromptSet("harmful", tuple(p for p in prompts if p.harmful)).sample(n // 2, seed)
    hard = PromptSet("benign", tuple(p for p in prompts if p.source == "or_bench_hard")).sample(n - n // 2, seed)
    return PromptSet.concat(f"{prompts.name}-sample", [hard, harmful])


train_prompts = balanced_sample(train, N_TRAIN)
print({name: len(part) for name, part in splits.items()}, "->", len(train_prompts), "training prompts")

# %% [markdown]
# `load_model()` loads the embedded model with `dtype="auto"`: bfloat16 where the processor runs it
# natively, float32 elsewhere. `collect_labelled` answers every prompt greedily, lets an
# `AnswerJudge` (by default the substring judge) decide whether each answer is a refusal, crosses
# that with the prompt's ground truth into one of four labels, and reads the residual stream at the
# last prompt token at every layer. It writes `answers.jsonl` (every answer with every verdict)
# and the activations into a run folder; given the same folder again it resumes instead of
# answering twice, and `ActivationSet.load(folder)` reads the activations back.

# %%
from edshook.backends import make_backend
from edshook.judges import AnswerJudge, label_counts
from edshook.models import load_model
from edshook.training import collect_labelled

backend = make_backend(load_model(), "nnsight")
activations = collect_labelled(
    backend, train_prompts, AnswerJudge(), RUN, max_new_tokens=LABEL_TOKENS, batch_size=BATCH_SIZE, progress=False
)
counts = label_counts(activations.labels)
print(backend.loaded.describe())
print("states:", tuple(activations.states.shape), "(prompt, layer, d_model) ->", RUN)
display(Markdown("| label | prompts |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in counts.items())))

# %%
assert activations.states.shape == (len(train_prompts), backend.n_layers, backend.d_model)
assert counts["false_refusal"] > 0 and counts["helpful"] > 0, "benign prompts with both outcomes"

# %% [markdown]
# ## 2. One energy per layer
#
# `train_energies` trains an `EnergyModel` per layer: desirable states (helpful answer, safe
# refusal) low, undesirable ones (false refusal, jailbreak) high. A share of the prompts, chosen
# by a hash of their id, is held out for validation at every layer; each EBM keeps its best
# validation epoch, and `calibrate` sets its **gate**: the energy with the best balanced accuracy on
# the validation rows (above it a state counts as undesirable). `trained.reports[layer]` holds that
# accuracy, the AUC and the gate (`energy_threshold`).

# %%
from edshook.training import TrainConfig, train_energies, validation_rows

config = TrainConfig(val_fraction=0.3 if FAST else 0.2)
trained = train_energies(activations, config=config, progress=False)
is_val = validation_rows(activations.ids, config)
print(f"{int((~is_val).sum())} training rows, {int(is_val.sum())} validation rows")
rows = [
    f"| {layer} | {r.val_accuracy:.2f} | {r.val_auc:.2f} | {r.energy_threshold:+.3f} | {r.epochs} |"
    for layer, r in ((layer, trained.reports[layer]) for layer in trained.ranked()[:5])
]
display(Markdown("| layer | val. accuracy | AUC | gate | epochs |\n|---|---|---|---|---|\n" + "\n".join(rows)))

# %% [markdown]
# ### Choosing layers
#
# `LayerSelector` composes two choices here: a depth range, `depth(0.25, 0.75)`, the layers whose
# relative depth `layer / n_layers` lies in `[0.25, 0.75)`, and the best `k` layers in it by
# validation accuracy (`top_k`; a small AUC term breaks the ties that a handful of validation rows
# produce).

# %%
from edshook.interventions import LayerSelector

candidates = LayerSelector.depth(0.25, 0.75).resolve(backend.n_layers)
scores = {layer: trained.reports[layer].val_accuracy + 1e-3 * trained.reports[layer].val_auc for layer in candidates}
layers = LayerSelector.top_k(scores, k=3).resolve(backend.n_layers)
best = max(layers, key=scores.get)
print("candidates:", candidates)
print("steered layers:", layers, "| best:", best)
assert all(0.25 <= layer / backend.n_layers < 0.75 for layer in candidates) and set(layers) <= set(candidates)

# %%
all_layers = sorted(trained.reports)
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(all_layers, [trained.reports[layer].val_accuracy for layer in all_layers], "o-", label="balanced accuracy")
ax.plot(all_layers, [trained.reports[layer].val_auc for layer in all_layers], "s--", alpha=0.6, label="AUC")
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
# for the rows the EBM trained on and for the validation rows it never saw; the dashed line is the
# gate. Only the validation rows measure how well the energy generalises (in fast mode there are
# only a handful). Counting the validation states on the right side of the gate gives back the
# balanced accuracy of the report.

# %%
energy_model = trained.energies[best].eval()
with torch.no_grad():
    energies = energy_model(activations.layer(best))
good = activations.desirable
gate = trained.reports[best].energy_threshold

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharex=True)
for ax, subset, title in ((axes[0], ~is_val, "training rows"), (axes[1], is_val, "validation rows")):
    bins = torch.linspace(float(energies.min()), float(energies.max()), 21).tolist()
    ax.hist(energies[subset & good].tolist(), bins=bins, alpha=0.6, label="desirable", color="tab:green")
    ax.hist(energies[subset & ~good].tolist(), bins=bins, alpha=0.6, label="undesirable", color="tab:red")
    ax.axvline(gate, color="k", ls="--", lw=1)
    ax.set(title=f"layer {best}: {title}", xlabel="energy")
axes[0].set_ylabel("states")
axes[0].legend()
plt.tight_layout()
plt.show()

balanced = 0.5 * (
    float((energies[is_val & good] <= gate).float().mean()) + float((energies[is_val & ~good] > gate).float().mean())
)
print(f"layer {best}: balanced accuracy at the gate {balanced:.3f}, report {trained.reports[best].val_accuracy:.3f}")
assert abs(balanced - trained.reports[best].val_accuracy) < 1e-6

# %% [markdown]
# ## 3. Composing the policy
#
# `EnergySteering` takes one energy per layer, their gates, and four settings:
#
# - `StepSchedule(steps, step_size, gated=True)`: K normalised gradient steps; with gating a state
#   whose energy is already at or below its layer's gate is not moved, and a moving one stops once
#   it gets there;
# - `NormConstraint(max_relative_move=...)`: the total move is at most that fraction of the
#   state's norm;
# - `PositionSelector(prompt="last", generated=True, max_generated=None)`: the last prompt token
#   and every generated one (`max_generated=n` would steer only the first `n` generated tokens);
# - `model=backend.spec`: attaching the policy to another model is an error.
#
# The step size is a distance in the residual stream, so compare it with the norm of the states.
# `policy.describe()` says in one line what the policy does.

# %%
from edshook.interventions import EnergySteering, NormConstraint, PositionSelector, StepSchedule

norms = activations.layer(best).norm(dim=-1)
print(f"state norm at layer {best}: median {norms.median():.1f}")
policy = EnergySteering(
    {layer: trained.energies[layer] for layer in layers},
    gates={layer: trained.reports[layer].energy_threshold for layer in layers},
    schedule=StepSchedule(steps=5, step_size=2.0, gated=True),
    constraint=NormConstraint(max_relative_move=0.25),
    positions=PositionSelector(prompt="last", generated=True),
    model=backend.spec,
)
print(policy.describe())
print("gates:", {layer: round(value, 3) for layer, value in policy.gates.items()})

# %% [markdown]
# A gated schedule needs a gate for every layer; without them the policy is refused when it is
# built, not when it first runs:

# %%
from edshook.errors import PolicyError

try:
    EnergySteering({layer: trained.energies[layer] for layer in layers}, schedule=StepSchedule(gated=True))
except PolicyError as error:
    print(f"{type(error).__name__}: {error}")
else:
    raise AssertionError("a gated schedule without gates must be refused")

# %% [markdown]
# ## 4. Held-out prompts, before and after
#
# The held-out prompts come from the validation split, so no EBM saw them. Generating long answers
# for all of them would be slow, so two cheap measures come first:
#
# - the **refusal score**: the log-odds that the first answer token opens a refusal ("I",
#   "Sorry", "As", ...), one forward pass per prompt (`refusal_score`). Steering the last prompt
#   token changes exactly that first token's distribution;
# - then a few prompts of each kind answered in full, and read by the judge.

# %%
from edshook.evaluation import refusal_score

held_out = balanced_sample(val, N_HELD_OUT)
texts = list(held_out.texts)
harmful = torch.tensor([p.harmful for p in held_out])
base_score = refusal_score(backend, texts, batch_size=BATCH_SIZE)
with backend.steer(policy):
    single_score = refusal_score(backend, texts, batch_size=BATCH_SIZE)
single_shift = single_score - base_score


def shift_table(shifts: dict[str, torch.Tensor]) -> str:
    """Mean change of the refusal score per kind of prompt, one column per policy."""
    head = "| prompts | " + " | ".join(shifts) + " |\n|---|" + "---|" * len(shifts)
    lines = [
        f"| {kind} ({int(rows.sum())}) | " + " | ".join(f"{float(s[rows].mean()):+.2f}" for s in shifts.values()) + " |"
        for kind, rows in (("benign", ~harmful), ("harmful", harmful))
    ]
    return "\n".join([head, *lines])


display(Markdown(shift_table({"single energy": single_shift})))

# %% [markdown]
# Trained on "helpful and safe refusal are good, false refusal and jailbreak are bad", one energy
# learns mostly the difference between refusing and answering: nothing in it tells a harmful prompt
# from a benign one, so whatever its descent does to the refusal of one kind it tends to do to the
# other. What it did here, in words computed from the table:


# %%
def moves(shift: float) -> str:
    """A mean change of the refusal score in words."""
    return "lowers" if shift < -0.05 else "raises" if shift > 0.05 else "barely changes"


benign_single, harmful_single = float(single_shift[~harmful].mean()), float(single_shift[harmful].mean())
display(
    Markdown(
        f"The single energy {moves(benign_single)} the mean refusal score of the benign prompts "
        f"({benign_single:+.2f}) and {moves(harmful_single)} that of the harmful ones ({harmful_single:+.2f})."
    )
)

# %% [markdown]
# The answers to a few of these prompts, before and after, with the substring judge's reading:

# %%
from edshook.judges import default_judge

judge = default_judge()
shown = [i for kind in (False, True) for i in [j for j, p in enumerate(held_out) if p.harmful == kind][:N_SHOWN]]
shown_texts = [texts[i] for i in shown]
before = backend.generate(shown_texts, max_new_tokens=ANSWER_TOKENS, batch_size=BATCH_SIZE, progress=False)
with backend.steer(policy):
    after = backend.generate(shown_texts, max_new_tokens=ANSWER_TOKENS, batch_size=BATCH_SIZE, progress=False)
refused_before, refused_after = judge(before, shown_texts), judge(after, shown_texts)
for i, b, a, rb, ra in zip(shown, before, after, refused_before, refused_after, strict=True):
    kind = "harmful" if held_out.prompts[i].harmful else "benign"
    print(f"[{kind}] {textwrap.fill(texts[i], 96)}")
    print(f"  before ({'refused' if rb else 'answered'}):\n{wrap(b)}")
    print(f"  after ({'refused' if ra else 'answered'}):\n{wrap(a)}\n")

# %% [markdown]
# ### The energy, token by token
#
# `backend.steer(policy, record=True)` returns a handle whose `trace.records` hold, for every
# steered state, the layer, the phase (`prefill` for the last prompt token, `decode` for generated
# tokens), the token index, the prompt (its index in the list passed to `generate`), the energy
# before and after the descent and the number of steps taken. A copy of the policy with one step
# of size zero (`policy.replace(...)`) moves nothing, so it records the energy of the unsteered
# generation, and its answers are the unsteered ones. "Before descent" at a layer already includes
# what the earlier steered layers did to that token.

# %%
monitor = policy.replace(schedule=StepSchedule(steps=1, step_size=0.0))
with backend.steer(monitor, record=True) as unsteered:
    monitored = backend.generate(shown_texts, max_new_tokens=ANSWER_TOKENS, batch_size=BATCH_SIZE, progress=False)
with backend.steer(policy, record=True) as steered:
    backend.generate(shown_texts, max_new_tokens=ANSWER_TOKENS, batch_size=BATCH_SIZE, progress=False)
print("records:", len(steered.trace.records), "| first:", steered.trace.records[0])
assert monitored == before, "a step of size zero leaves every answer as it was"

traced = 0  # the first prompt shown: a benign one


def energy_by_token(records, layer, field):
    chosen = sorted((r.step, getattr(r, field)) for r in records if r.layer == layer and r.prompt == traced)
    return [step for step, _ in chosen], [value for _, value in chosen]


fig, ax = plt.subplots(figsize=(8, 3.5))
for records, field, style, colour, label in (
    (unsteered.trace.records, "energy_before", "o-", "grey", "unsteered"),
    (steered.trace.records, "energy_before", "^-", "tab:red", "steered, before descent"),
    (steered.trace.records, "energy_after", "v-", "tab:green", "steered, after descent"),
):
    ax.plot(*energy_by_token(records, best, field), style, c=colour, label=label)
ax.axhline(policy.gates[best], color="k", ls="--", lw=1, label="gate")
ax.set(xlabel="token (0: last prompt token, then generated tokens)", ylabel=f"energy at layer {best}")
title = shown_texts[traced]
ax.set_title(title[:70] + ("…" if len(title) > 70 else ""), fontsize=9)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Gating, checked on every record: a state took at least one step exactly when its energy before
# the descent was above its layer's gate.

# %%
records = steered.trace.records
moved = sum(r.n_steps > 0 for r in records)
print(f"{moved} of {len(records)} steered states were above their gate and moved")
assert all((r.n_steps > 0) == (r.energy_before > policy.gates[r.layer]) for r in records)

# %% [markdown]
# ## 5. A conditional policy
#
# `train_conditional_parts` trains three parts from the same activations: a linear probe of the
# prompt's ground truth (harmful or not), an energy of false refusal against helpful answer on the
# benign prompts (descent moves towards answering) and an energy of jailbreak against safe refusal
# on the harmful ones (descent moves towards refusing). `parts.policy(...)` composes them into a
# `ConditionalSteering`: the probe reads the last prompt token, and a prompt scored at or below
# `benign_below` is steered by the benign energy, one above `harmful_above` by the harmful energy,
# one in between (a band, when the two differ) not at all. If the model answered too few harmful
# training prompts there is no harmful energy, and harmful prompts are left alone. The parts are
# trained once; `parts.policy` builds as many policies from them as you like.

# %%
import warnings

from edshook.training import train_conditional_parts

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", RuntimeWarning)
    parts = train_conditional_parts(activations, config=config, progress=False)
for warning in caught:
    print("note:", warning.message)
conditional = parts.policy(k=3, benign_below=0.3, harmful_above=0.7)
print(f"probe validation accuracy {parts.probe_report.val_accuracy:.2f}")
print(conditional.describe())

# %% [markdown]
# `record=True` also keeps each prompt's probe score and route (`trace.routes`). The scores are
# the probe applied to the states `backend.collect` reads at the probe's layers, and each route
# follows from its score and the two thresholds:

# %%
with backend.steer(conditional, record=True) as handle:
    backend.generate(texts, max_new_tokens=1, batch_size=BATCH_SIZE, progress=False)
routes = sorted(handle.trace.routes, key=lambda r: r.prompt)
probe_states = backend.collect(texts, layers=list(conditional.probe.layers), batch_size=BATCH_SIZE, progress=False)
p_harmful = conditional.probe.probability(probe_states)
expected = ["benign" if p <= 0.3 else "harmful" if p > 0.7 else "none" for p in p_harmful.tolist()]
assert [r.prompt for r in routes] == list(range(len(texts)))
assert torch.allclose(torch.tensor([r.score for r in routes]), p_harmful, atol=1e-3)
assert [r.route for r in routes] == expected

table = ["| route | benign prompts | harmful prompts |", "|---|---|---|"]
for route in ("benign", "none", "harmful"):
    counts_by_kind = [
        sum(r.route == route and h == kind for r, h in zip(routes, harmful.tolist(), strict=True)) for kind in (0, 1)
    ]
    table.append(f"| {route} | {counts_by_kind[0]} | {counts_by_kind[1]} |")
display(Markdown("\n".join(table)))

# %% [markdown]
# The same refusal score as above, now with the conditional policy beside the single energy:

# %%
with backend.steer(conditional):
    conditional_shift = refusal_score(backend, texts, batch_size=BATCH_SIZE) - base_score
display(Markdown(shift_table({"single energy": single_shift, "conditional": conditional_shift})))

# %% [markdown]
# The single energy moves every prompt the same way; the conditional policy moves each prompt by
# its route in the table above: the benign energy steers towards answering, the harmful energy
# towards refusing, and a prompt in the band is not steered. The probe's mistakes go with it: a
# harmful prompt on the benign route is steered towards answering. Here:

# %%
benign_conditional = float(conditional_shift[~harmful].mean())
harmful_conditional = float(conditional_shift[harmful].mean())
display(
    Markdown(
        f"The conditional policy {moves(benign_conditional)} the mean refusal score of the benign prompts "
        f"({benign_conditional:+.2f}) and {moves(harmful_conditional)} that of the harmful ones "
        f"({harmful_conditional:+.2f}; single energy {harmful_single:+.2f})."
    )
)
