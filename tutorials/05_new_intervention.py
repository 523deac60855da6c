# %% [markdown]
# # Writing a new intervention
#
# Everything edshook attaches to a model, the EDS policy included, goes through one small
# protocol. This tutorial writes a new intervention from scratch and runs it on the embedded
# Qwen2.5-Coder-0.5B-Instruct through both backends. You will learn:
#
# - what an intervention must provide (`sites` and `__call__(hidden, call)`) and what the
#   `SiteCall` tells it;
# - how to write one that edits only the positions it should (never padding);
# - that the same object gives the same generations on TransformerLens and nnsight;
# - that leaving the `with backend.steer(...)` block removes its hooks;
# - how to compose it with an `EnergySteering` policy in one `steer` call.

# %%
import os

FAST = os.environ.get("EDSHOOK_FAST") == "1"
N_DIRECTION = 16 if FAST else 64  # prompts per class for the difference-in-means direction
N_PROMPTS = 4 if FAST else 12  # held-out benign prompts generated under the interventions
MAX_NEW_TOKENS = 20 if FAST else 48
BATCH_SIZE = 16

# %%
import warnings

import matplotlib.pyplot as plt
import torch
import transformers
from torch import Tensor, nn

from edshook import Intervention, Site, SiteCall
from edshook.backends import NnsightBackend, TransformerLensBackend
from edshook.data import PromptSet, standard_splits
from edshook.interventions import EnergySteering, NormConstraint, PositionSelector, StepSchedule
from edshook.judges import default_judge
from edshook.models import load_model

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
warnings.filterwarnings("ignore", category=UserWarning)


# %% [markdown]
# ## The protocol
#
# An intervention is any object with
#
# - a `sites` property: a tuple of `Site(layer)`, the residual stream at the input of those decoder
#   blocks;
# - `__call__(hidden, call)`: takes the hidden state `[batch, pos, d_model]` at one site and returns
#   the edited state as a **new** tensor (never edit `hidden` in place).
#
# `call` is a `SiteCall` with
#
# | field | meaning |
# |---|---|
# | `site` | the `Site` being run (one object can serve several layers) |
# | `phase` | `"prefill"` for the pass over the prompt, `"decode"` for each generated token |
# | `step` | 0 at prefill, then the index of the generated token |
# | `real` | `[batch, pos]` booleans, False at left padding |
# | `trace` | an `EnergyTrace` to record into when steering with `record=True`, else None |
#
# Prompts are left-padded, so at prefill position -1 is every prompt's last token (the end of the
# chat template); during decoding `hidden` holds only the new token, `pos == 1`.
#
# The backend maps each site to its own address when the intervention is attached:
# `blocks.{l}.hook_resid_pre` on a TransformerLens bridge, `model.layers[l].input` inside an
# nnsight trace. The intervention never sees the library.
#
# ## A new intervention: add a direction
#
# `AddDirection` adds `scale * vector` to the residual stream at chosen layers, only at the last
# prompt token and at generated tokens, the positions where the model decides how to answer.


# %%
class AddDirection:
    """Add ``scale * vector`` at the last prompt token and at every generated token of ``layers``."""

    def __init__(self, vector: Tensor, layers: tuple[int, ...], scale: float = 1.0) -> None:
        self.vector = vector.detach().float()
        self.layers = tuple(layers)
        self.scale = float(scale)

    @property
    def sites(self) -> tuple[Site, ...]:
        return tuple(Site(layer) for layer in self.layers)

    def __call__(self, hidden: Tensor, call: SiteCall) -> Tensor:
        if call.phase == "prefill":
            selected = torch.zeros_like(call.real)
            selected[:, -1] = call.real[:, -1]  # the last prompt token, unless the row is padding there
        else:
            selected = call.real  # the token just generated
        shift = (self.scale * self.vector).to(device=hidden.device, dtype=hidden.dtype)
        return hidden + selected[..., None].to(hidden.dtype) * shift


# %% [markdown]
# ## Two backends over the same model
#
# Booting a TransformerLens bridge rewires the model it is given, so each backend gets a model of
# its own. The bridge also switches attention to the eager implementation; loading both copies
# with `attn_implementation="eager"` makes the two backends run the same arithmetic, which matters
# in bfloat16, where another attention kernel rounds differently and can flip a greedy token.


# %%
def qwen():
    return load_model("qwen2.5-coder-0.5b-instruct", dtype=torch.bfloat16, attn_implementation="eager")


backends = {"transformer_lens": TransformerLensBackend(qwen()), "nnsight": NnsightBackend(qwen())}
tl, ns = backends["transformer_lens"], backends["nnsight"]
print(tl, ns, sep="\n")

# %% [markdown]
# The vector: the difference between the mean residual stream of harmful and of benign training
# prompts at their last token, at the middle layer. `backend.collect` reads those states (float32,
# on the CPU) with a read-only intervention of its own. Added with `scale=4` (compare its norm with
# the states' norm), the vector pushes benign prompts towards a refusal.

# %%
splits = standard_splits()
train, val = splits["train"], splits["val"]
harmful = PromptSet("harmful", tuple(p for p in train if p.harmful)).sample(N_DIRECTION)
benign = PromptSet("benign", tuple(p for p in train if p.source == "refusal_harmless_train")).sample(N_DIRECTION)
layer = tl.n_layers // 2
direction_texts = list(harmful.texts) + list(benign.texts)
states = ns.collect(direction_texts, layers=[layer], batch_size=BATCH_SIZE, progress=False)[:, 0]
vector = states[: len(harmful)].mean(0) - states[len(harmful) :].mean(0)
print(f"layer {layer}: |vector| = {vector.norm():.1f}, median state norm = {states.norm(dim=-1).median():.1f}")

add = AddDirection(vector, layers=(layer,), scale=4.0)
print("is an Intervention:", isinstance(add, Intervention))

# %% [markdown]
# ## Identical generations on both backends
#
# Held-out benign prompts (Alpaca instructions from the validation split), first unsteered, then
# with the direction added, on each backend.

# %%
prompts = PromptSet("held-out", tuple(p for p in val if p.source == "refusal_harmless_train")).sample(N_PROMPTS)
texts = list(prompts.texts)
judge = default_judge()
generate = {"max_new_tokens": MAX_NEW_TOKENS, "batch_size": BATCH_SIZE, "progress": False}

plain = tl.generate(texts, **generate)
plain_logits = {name: backend.logits(texts, progress=False) for name, backend in backends.items()}
steered = {}
for name, backend in backends.items():
    with backend.steer(add):
        steered[name] = backend.generate(texts, **generate)

for text, before, after in zip(texts, plain, steered["transformer_lens"], strict=False):
    print(f"> {text}\n  plain:  {before!r}\n  +vector: {after!r}")
refused = {"plain": sum(judge(plain)), "+vector": sum(judge(steered["transformer_lens"]))}
print(f"\nrefusals of {len(texts)}: {refused}")
print("identical on both backends:", steered["transformer_lens"] == steered["nnsight"])

# %% [markdown]
# ## Hooks are gone after the `with` block
#
# Each handle knows the address its site has on its backend. On TransformerLens, edshook registers
# a PyTorch forward hook on that hook point while the handle is attached; on nnsight, edits are made
# inside the trace of each forward pass and nothing is registered at all. After the block the
# handle is inactive, the backend has nothing attached, no hook is left, and both models give
# exactly the unsteered logits again.

# %%
point = tl.bridge.hook_dict[f"blocks.{layer}.hook_resid_pre"]


def registered(backend) -> int:
    """PyTorch forward hooks at the steered site (TransformerLens) or anywhere in the model (nnsight)."""
    if backend is tl:
        return len(point._forward_hooks)
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in backend.loaded.model.modules())


for name, backend in backends.items():
    with backend.steer(add) as handle:
        inside = registered(backend)
    print(
        f"{name}: {handle.addresses[Site(layer)]!r}; hooks inside the block {inside}, after {registered(backend)}; "
        f"handle active {handle.active}; attached {backend.attached}"
    )
    print("   logits equal the unsteered ones:", torch.equal(backend.logits(texts, progress=False), plain_logits[name]))

# %% [markdown]
# ## Composing with an EnergySteering policy
#
# `backend.steer(a, b)` attaches several interventions at once; at a shared site they run in the
# order given, and all are removed together. Here the direction is added at the middle layer and an
# `EnergySteering` policy descends an energy two layers later.
#
# `EnergySteering` accepts any module that maps states `[n, d_model]` to energies `[n]`. A trained
# `EnergyModel` is what you would use in practice (tutorial 02 trains one; `load_policy(folder)`
# reads a saved one); to keep this tutorial short, the energy below is written by hand: the
# projection of the layer-normalised state on the same direction, high when the state points the
# way of harmful prompts. Descending it moves the state away from that direction. Five steps
# together as long as the added vector (`scale * |vector|`) could undo it; the constraint caps the
# total move at half the state's norm.


# %%
class ProjectionEnergy(nn.Module):
    """E(h) = <LayerNorm(h), u> for a unit vector u."""

    def __init__(self, direction: Tensor) -> None:
        super().__init__()
        self.d_model = direction.shape[-1]
        self.register_buffer("u", direction.float() / direction.float().norm())

    def forward(self, hidden: Tensor) -> Tensor:
        return nn.functional.layer_norm(hidden.float(), (self.d_model,)) @ self.u


eds_layer = layer + 2
eds = EnergySteering(
    {eds_layer: ProjectionEnergy(vector)},
    schedule=StepSchedule(steps=5, step_size=add.scale * float(vector.norm()) / 5),
    constraint=NormConstraint(max_relative_move=0.5),
    positions=PositionSelector(prompt="last", generated=True),
    model=tl.spec,
)

with tl.steer(add, eds, record=True) as both:
    composed = tl.generate(texts, **generate)
with tl.steer(eds, record=True) as eds_only:
    tl.generate(texts, **generate)
print("attached after the block:", tl.attached)
for text, one, two in zip(texts, steered["transformer_lens"], composed, strict=False):
    print(f"> {text}\n  +vector:       {one!r}\n  +vector + EDS: {two!r}")
refused = {"+vector": sum(judge(steered["transformer_lens"])), "+vector + EDS": sum(judge(composed))}
print(f"\nrefusals of {len(texts)}: {refused}")

# %% [markdown]
# Both handles recorded the energy at the EDS layer for every steered state: the last prompt token
# (token 0) and each generated token. Averaged over the prompts, the vector added upstream raises
# the energy the policy sees, and each descent brings it down before the next block runs.


# %%
def mean_by_token(records, field):
    by_step: dict[int, list[float]] = {}
    for record in records:
        by_step.setdefault(record.step, []).append(getattr(record, field))
    steps = sorted(by_step)
    return steps, [sum(by_step[s]) / len(by_step[s]) for s in steps]


fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(*mean_by_token(eds_only.trace.records, "energy_before"), "o-", c="grey", label="EDS only, before descent")
ax.plot(*mean_by_token(both.trace.records, "energy_before"), "^-", c="tab:red", label="+vector, before descent")
ax.plot(*mean_by_token(both.trace.records, "energy_after"), "v-", c="tab:green", label="+vector, after descent")
ax.set(xlabel="token (0: last prompt token)", ylabel=f"mean energy at layer {eds_layer}")
ax.legend(fontsize=8)
plt.show()
