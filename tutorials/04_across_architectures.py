# %% [markdown]
# # One configuration across architectures
#
# Nothing in edshook is specific to one model: a `Site` is "the residual stream at the input of
# block l", and each backend finds that place in whatever architecture it is given. This tutorial
# runs one configuration, unchanged, on the three embedded models:
#
# | model | architecture | layers | d_model | chat template |
# |---|---|---|---|---|
# | Qwen2.5-Coder-0.5B-Instruct | Qwen2 | 24 | 896 | yes; refuses harmful requests |
# | SmolLM2-135M-Instruct | Llama | 30 | 576 | yes; (almost) never refuses |
# | Gemma-3-270M | Gemma 3 | 18 | 640 | none: a base model, fed raw text |
#
# through both backends (TransformerLens and nnsight). On the same balanced prompts, each model
# answers, a judge labels its own answers, one EBM per layer is trained on its states, and the
# resulting policy steers the model on the prompts its EBMs held out. You will learn:
#
# - how to run the same code on several models and both backends (`make_backend`, `chat=False`);
# - that both backends read the same activations;
# - how EBM validation accuracy and the energies of good and bad states vary with relative depth;
# - what the labels mean for a model that never refuses and for a base model;
# - what steering each model with its own policy changes, and why one model's policy is refused
#   by another.

# %%
import os

FAST = os.environ.get("EDSHOOK_FAST") == "1"
N_PROMPTS = 24 if FAST else 160  # half benign (OR-Bench-Hard), half harmful (OR-Bench-Toxic)
MAX_NEW_TOKENS = 12 if FAST else 48  # answers only need to be long enough to judge
BATCH_SIZE = 24 if FAST else 32

# %%
import gc
import warnings
from collections import Counter

import matplotlib.pyplot as plt
import torch
import transformers

from edshook.backends import make_backend
from edshook.data import PromptSet, standard_splits
from edshook.errors import PolicyMismatchError, SiteError, TrainingError
from edshook.interventions import NormConstraint, PositionSelector, StepSchedule
from edshook.judges import AnswerJudge, label_counts
from edshook.models import load_model
from edshook.training import ActivationSet, TrainConfig, answer_prompts, train_energies, validation_rows

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
warnings.filterwarnings("ignore", category=UserWarning)


# %% [markdown]
# ## The configuration and the prompts
#
# One configuration for every model: how the EBMs are trained, how many layers the policy keeps,
# and how it steers. The prompts are a balanced sample of the train split: benign prompts from
# OR-Bench-Hard (they sound risky, so a cautious model refuses some) and harmful ones from
# OR-Bench-Toxic.

# %%
MODELS = {  # name -> whether prompts go through the chat template
    "qwen2.5-coder-0.5b-instruct": True,
    "smollm2-135m-instruct": True,
    "gemma3-270m": False,  # a base model: no chat template, so chat=False feeds the raw text
}
LIBRARIES = ("transformer_lens", "nnsight")
CONFIG = TrainConfig(hidden=(128,), val_fraction=0.3 if FAST else 0.2)
TOP_K = 3
SCHEDULE = StepSchedule(steps=5, step_size=2.0, gated=True)
CONSTRAINT = NormConstraint(max_relative_move=0.25)
POSITIONS = PositionSelector(prompt="last", generated=True)

train = standard_splits()["train"]
benign = PromptSet("benign", tuple(p for p in train if p.source == "or_bench_hard")).sample(N_PROMPTS // 2)
harmful = PromptSet("harmful", tuple(p for p in train if p.source == "or_bench_toxic")).sample(N_PROMPTS // 2)
prompts = PromptSet.concat("prompts", [benign, harmful])
texts = list(prompts.texts)
is_val = validation_rows(prompts.ids, CONFIG)
judge = AnswerJudge()
print(f"{len(benign)} benign + {len(harmful)} harmful prompts; {int(is_val.sum())} held out for EBM validation")

# %% [markdown]
# ## Each model, both backends
#
# For each model: load it twice in bfloat16 (booting a TransformerLens bridge rewires the model it
# is given, so each backend needs its own copy; both use eager attention, which the bridge switches
# to anyway, so the two run the same arithmetic), answer and label every prompt with the judge
# (through the nnsight backend; tutorial 05 shows that both backends generate the same), read the
# residual stream at the last prompt token at every layer through both backends, compare
# the two, train one EBM per layer, keep the top layers as a policy, and answer the held-out
# prompts again with that policy attached.


# %%
def study(name: str, chat: bool) -> dict:
    backends = {
        library: make_backend(load_model(name, dtype=torch.bfloat16, attn_implementation="eager"), library, chat=chat)
        for library in LIBRARIES
    }
    backend = backends["nnsight"]
    answers = answer_prompts(
        backend, prompts, judge, max_new_tokens=MAX_NEW_TOKENS, batch_size=BATCH_SIZE, progress=False
    )
    states = {library: b.collect(texts, batch_size=BATCH_SIZE, progress=False) for library, b in backends.items()}
    activations = ActivationSet(
        states=states["nnsight"],
        layers=tuple(range(backend.n_layers)),
        ids=prompts.ids,
        labels=tuple(a.label for a in answers),
        model=backend.spec,
    )
    result = {
        "spec": backend.spec,
        "answers": answers,
        "counts": label_counts(activations.labels),
        "backend_difference": float((states["transformer_lens"] - states["nnsight"]).abs().max()),
        "trained": None,
        "backend": backend,
        "changed": [],
    }
    try:
        trained = train_energies(activations, config=CONFIG, progress=False)
    except TrainingError as err:  # e.g. every answer desirable: there is nothing to contrast
        print(f"{name}: no EBMs ({err})")
        return result
    policy = trained.policy(
        TOP_K, schedule=SCHEDULE, constraint=CONSTRAINT, positions=POSITIONS, activations=activations
    )
    held_out = PromptSet("held out", tuple(p for p, v in zip(prompts, is_val.tolist(), strict=True) if v))
    with backend.steer(policy):
        steered = answer_prompts(
            backend, held_out, judge, max_new_tokens=MAX_NEW_TOKENS, batch_size=BATCH_SIZE, progress=False
        )
    before = [a for a, v in zip(answers, is_val.tolist(), strict=True) if v]
    result["changed"] = [
        (b.label.value, a.label.value) for b, a in zip(before, steered, strict=True) if b.label != a.label
    ]
    good = activations.desirable
    energy = {"good": [], "bad": []}
    for layer in activations.layers:
        model = trained.energies[layer].eval()
        with torch.no_grad():
            values = model(activations.layer(layer)[is_val]) - trained.reports[layer].energy_threshold
        energy["good"].append(float(values[good[is_val]].mean()))
        energy["bad"].append(float(values[~good[is_val]].mean()))
    result.update(trained=trained, policy=policy, energy=energy)
    return result


results = {}
for name, chat in MODELS.items():
    results[name] = study(name, chat)
    r = results[name]
    print(f"{name} ({r['spec'].n_layers} layers, d_model {r['spec'].d_model}, chat={chat})")
    print(f"   labels: {r['counts']}")
    print(f"   max |TransformerLens - nnsight| over all layers and prompts: {r['backend_difference']:.3g}")
    if r["trained"] is not None:
        print(f"   policy layers (top {TOP_K} by validation accuracy): {r['policy'].layers}")
        changes = Counter(f"{a} -> {b}" for a, b in r["changed"])
        print(f"   steered, {len(r['changed'])} of {int(is_val.sum())} held-out labels changed: {dict(changes)}")
    if name != list(MODELS)[-1]:
        r.pop("backend", None)  # keep only the last model in memory
    gc.collect()

# %% [markdown]
# The first benign and the first harmful answer of each model show what the judge saw. The base
# model writes a continuation of the raw prompt rather than a reply.

# %%
for name, r in results.items():
    print(name)
    for answer in (r["answers"][0], r["answers"][len(benign)]):
        kind = "harmful" if answer.harmful else "benign"
        print(f"   [{kind}, {answer.label.value}] {answer.text[:60]!r}\n      -> {answer.answer!r}")

# %% [markdown]
# ## What the labels mean for each model
#
# The judge only says whether an answer reads as a refusal; crossed with the prompt's ground truth
# this gives the label. What the EBM then learns depends on how the model behaves:
#
# - **Qwen2.5-Coder-0.5B-Instruct** refuses a good share of the harmful prompts and some benign
#   ones, so all four labels occur: the good states are helpful answers and safe refusals, the bad
#   ones false refusals and jailbreaks. This is the case EDS is designed for.
# - **SmolLM2-135M-Instruct** (almost) never refuses. Every benign prompt is then *helpful* and
#   every harmful one a *jailbreak*, so its good/bad split is helpful vs jailbreak, which is simply
#   benign vs harmful prompts. Its EBM is a detector of harmful prompts, and descending its energy
#   moves a state towards "benign prompt", not towards a refusal the model never produces.
# - **Gemma-3-270M** is a base model with no chat template: with `chat=False` the raw prompt text is
#   fed as is, the state is read at the prompt's last token instead of the end of an assistant
#   header, and the "answer" is a continuation of the text. A base model does not decide to refuse;
#   the judge flags a continuation only when a refusal phrase happens to appear in it. Its labels are
#   therefore, like SmolLM2's, essentially the prompts' ground truth, with some noise from such
#   chance matches.
#
# The label counts printed above show how far each model is from these descriptions on this
# sample.
#
# What steering changed follows from that: for Qwen a changed label is a false refusal answered
# (or an answer turned into a refusal); for the other two models the energy separates benign from
# harmful prompts rather than answers from refusals, so the policy has little to move towards and
# few labels change. The counts above are on the held-out prompts only, a few dozen in full mode,
# too few for a rate: `edshook eval` and the benchmarks measure that.
#
# ## Accuracy and energy by relative depth
#
# The models have 18 to 30 layers, so layers are compared by relative depth, `layer / n_layers`.
# The left plot is each layer's balanced validation accuracy. The right plot is the mean energy of
# the good and of the bad validation states, relative to each layer's calibrated threshold: the
# training loss (InfoNCE) only ranks energies and is blind to a shift, so only the energy relative
# to the threshold (the layer's gate) is comparable across layers and models. Where a layer separates the two
# classes, good states sit below zero and bad ones above.
#
# Layer 0 is a check on the method. There a chat model's state at the last prompt token is the
# embedding of the chat template's last token, the same for every prompt: no EBM can tell the
# prompts apart, so Qwen and SmolLM2 score chance (0.5), and their gate sits below every state
# (all of them read as bad, +1 on the right). Gemma, fed raw text, ends each prompt on its own last
# token, so its layer 0 already holds a little of the prompt.

# %%
colours = dict(zip(MODELS, ("tab:blue", "tab:orange", "tab:green"), strict=False))
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
for name, r in results.items():
    if r["trained"] is None:
        continue
    n_layers = r["spec"].n_layers
    layers = sorted(r["trained"].reports)
    depth = [layer / n_layers for layer in layers]
    left.plot(
        depth, [r["trained"].reports[layer].val_accuracy for layer in layers], "o-", ms=3, c=colours[name], label=name
    )
    right.plot(depth, r["energy"]["good"], "-", c=colours[name], label=f"{name}: good")
    right.plot(depth, r["energy"]["bad"], "--", c=colours[name], label=f"{name}: bad")
left.set(xlabel="relative depth (layer / n_layers)", ylabel="balanced validation accuracy", ylim=(0.0, 1.05))
left.set_title("Per-layer EBM accuracy")
left.legend(fontsize=8)
right.axhline(0.0, color="k", lw=0.8)
right.set(xlabel="relative depth (layer / n_layers)", ylabel="mean energy - threshold (validation states)")
right.set_title("Good (solid) and bad (dashed) states")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## A policy belongs to its model
#
# The same configuration gave each model a policy of its own, tied to the model it was trained on
# (`policy.model`). Attaching one model's policy to another model is refused before any hook is
# installed: a layer the model does not have is a `SiteError`, another model id, depth or width a
# `PolicyMismatchError`.

# %%
last = results[list(MODELS)[-1]]
for name, r in results.items():
    if r["trained"] is None:
        continue
    policy = r["policy"]
    print(
        f"{name}: layers {policy.layers}, "
        f"relative depth {[round(layer / r['spec'].n_layers, 2) for layer in policy.layers]}"
    )
    if name != list(MODELS)[-1]:
        try:
            last["backend"].steer(policy)
        except (PolicyMismatchError, SiteError) as err:
            print(f"   on {last['spec'].model_id}: {type(err).__name__}: {err}")
        else:
            raise AssertionError("another model's policy must be refused")

# %% [markdown]
# A policy whose layers all exist in the other model is still refused: here Qwen's energy from its
# first steered layer, placed at layer 0, still names the model it was trained on.

# %%
from edshook.interventions import EnergySteering

qwen = results["qwen2.5-coder-0.5b-instruct"]["policy"]
first = EnergySteering({0: qwen.energy(qwen.layers[0])}, model=qwen.model)
try:
    last["backend"].steer(first)
except PolicyMismatchError as err:
    print(f"on {last['spec'].model_id}: {type(err).__name__}: {err}")
else:
    raise AssertionError("a policy made for another model must be refused")
