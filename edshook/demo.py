"""The demo behind ``make demo``: the whole EDS pipeline on the embedded model and built-in prompts.

The policy is the default, conditional one: a harmfulness probe sends each prompt to an energy
that steers towards answering (benign) or towards refusing (harmful).

Every "after" answer comes from a policy that never saw its prompt: the prompts are split in two
folds by id, a policy is trained on each fold, and each steers the other fold (cross-fitting).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from edshook.backends import make_backend
from edshook.data.demo import demo_prompts
from edshook.data.prompts import PromptSet, id_hash
from edshook.errors import TrainingError
from edshook.interventions import ConditionalSteering, EnergySteering, StepSchedule
from edshook.judges import default_judge, label_counts
from edshook.models import load_model
from edshook.training import ActivationSet, TrainConfig, answer_prompts, train_conditional, train_energies

__all__ = ["run_demo", "DEMO_SCHEDULE", "DEMO_TRAINING"]

DEMO_SCHEDULE = StepSchedule(steps=5, step_size=2.0)
DEMO_TRAINING = TrainConfig(hidden=(128,), val_fraction=0.25, max_epochs=60, patience=8)


def run_demo(out: Path, *, model: str, library: str, max_new_tokens: int = 24, top_k: int = 3) -> dict:
    """Answer, label, collect, train (two folds), steer, and print before/after answers."""
    started = time.perf_counter()
    out = Path(out)
    backend = make_backend(load_model(model, dtype=torch.bfloat16), library)
    prompts = demo_prompts()
    judge = default_judge()
    print(f"1/4 base answers for {len(prompts)} built-in prompts ({backend})")
    before = answer_prompts(backend, prompts, judge, out=out, max_new_tokens=max_new_tokens)
    print(f"    labels: {label_counts(a.label for a in before)}")
    print("2/4 residual stream at the last prompt token, every layer")
    states = backend.collect(list(prompts.texts))
    labels = tuple(a.label for a in before)
    fold = torch.tensor([id_hash(1, p.id) < 0.5 for p in prompts])
    after = {}
    for k in (0, 1):
        trained_on = fold if k == 0 else ~fold
        rows = trained_on.nonzero().flatten().tolist()
        activations = ActivationSet(
            states=states[rows],
            layers=tuple(range(backend.n_layers)),
            ids=tuple(prompts.ids[i] for i in rows),
            labels=tuple(labels[i] for i in rows),
            model=backend.spec,
        )
        print(f"3/4 fold {k + 1}: harmfulness probe and EBMs on {len(rows)} prompts' states")
        policy = _train(activations, top_k)
        policy.save(out / f"policy_fold{k + 1}")
        held_out = (~trained_on).nonzero().flatten().tolist()
        print(f"4/4 fold {k + 1}: {_describe(policy)}; steering the {len(held_out)} other prompts")
        with backend.steer(policy):
            answers = backend.generate([prompts.texts[i] for i in held_out], max_new_tokens=max_new_tokens)
        after.update(zip(held_out, answers))
    refused_after = judge([after[i] for i in range(len(prompts))])
    return _report(prompts, before, after, refused_after, out, time.perf_counter() - started)


def _train(activations: ActivationSet, top_k: int) -> EnergySteering | ConditionalSteering:
    """The default conditional policy; a single energy when a fold has no false refusal to learn from."""
    try:
        return train_conditional(
            activations, k=top_k, config=DEMO_TRAINING, benign_schedule=DEMO_SCHEDULE, harmful_schedule=DEMO_SCHEDULE
        )
    except TrainingError as err:
        print(f"    no conditional policy ({err}); training a single energy instead")
        trained = train_energies(activations, config=DEMO_TRAINING)
        return trained.policy(top_k, schedule=DEMO_SCHEDULE, activations=activations)


def _describe(policy: EnergySteering | ConditionalSteering) -> str:
    if isinstance(policy, EnergySteering):
        return f"single energy on layers {list(policy.layers)}"
    parts = (("benign", policy.benign), ("harmful", policy.harmful))
    energies = ", ".join(f"{name} energy on {list(part.layers)}" for name, part in parts if part is not None)
    return f"probe at layer {policy.probe.layer}, {energies}"


def _report(prompts: PromptSet, before, after: dict, refused_after: list[bool], out: Path, seconds: float) -> dict:
    benign_refused = [i for i, a in enumerate(before) if not a.harmful and a.refused]
    harmful = [i for i, a in enumerate(before) if a.harmful]
    fixed = [i for i in benign_refused if not refused_after[i]]
    broken = [i for i in harmful if before[i].refused and not refused_after[i]]
    benign = [i for i, a in enumerate(before) if not a.harmful]
    newly_refused = [i for i in benign if not before[i].refused and refused_after[i]]

    def show(title: str, rows: list[int]) -> None:
        print(f"\n=== {title}")
        for i in rows:
            print(f"\n> {prompts.texts[i]}\n  before: {before[i].answer!r}\n  after:  {after[i]!r}")

    show(f"benign prompts the base model refused ({len(benign_refused)})", benign_refused)
    show(f"harmful prompts ({len(harmful)}; first 8)", harmful[:8])
    summary = {
        "benign_refused_before": len(benign_refused),
        "benign_refusals_fixed": len(fixed),
        "benign_newly_refused": len(newly_refused),
        "harmful": len(harmful),
        "harmful_refused_before": sum(before[i].refused for i in harmful),
        "harmful_refused_after": sum(refused_after[i] for i in harmful),
        "harmful_refusals_lost": len(broken),
        "seconds": round(seconds, 1),
    }
    print(
        f"\nflipped: {len(fixed)} of {len(benign_refused)} wrongly refused benign prompts now answered; "
        f"{len(newly_refused)} benign prompts newly refused; harmful refused {summary['harmful_refused_before']}"
        f" -> {summary['harmful_refused_after']} of {len(harmful)}. Every 'after' comes from a policy that did "
        f"not train on that prompt. ({seconds:.0f} s)"
    )
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
