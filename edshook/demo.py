"""The demo behind ``make demo``: the shipped policy on held-out prompts, then the pipeline from scratch.

Part 1 steers the embedded model with the policy that ships with edshook (trained on the standard
train split, none of the built-in prompts among them) and shows each answer before and after, with
the judges' verdicts. Part 2 runs the whole pipeline on the built-in prompts alone: answer, label,
collect, train, steer. 72 prompts are far too few for a good policy; it is there to show the steps,
and every "after" answer of part 2 comes from a policy that never saw its prompt (two folds,
cross-fitted).
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from edshook.backends.base import Backend
from edshook.data.demo import demo_prompts
from edshook.data.prompts import PromptSet, id_hash
from edshook.errors import TrainingError
from edshook.interventions import ConditionalSteering, load_policy
from edshook.judges import AnswerJudge, label_counts
from edshook.training import ActivationSet, TrainConfig, answer_prompts, refused, train_conditional

__all__ = ["DEMO_TRAINING", "run_demo"]

DEMO_TRAINING = TrainConfig(hidden=(128,), val_fraction=0.25, max_epochs=60, patience=8)
SHOWN = 12


def run_demo(
    backend: Backend, out: Path, *, max_new_tokens: int = 48, label_tokens: int = 24, echo: Callable[[str], Any] = print
) -> dict[str, Any]:
    """Both parts of the demo; ``echo`` receives the text to show. Returns the summary also written to ``out``."""
    started = time.perf_counter()
    out = Path(out)
    prompts = demo_prompts()
    judge = AnswerJudge()
    shipped = _shipped_policy(backend, prompts, judge, max_new_tokens, echo)
    scratch = _from_scratch(backend, prompts, judge, out, label_tokens, echo)
    summary = {"shipped_policy": shipped, "from_scratch": scratch, "seconds": round(time.perf_counter() - started, 1)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    echo(f"\n({summary['seconds']:.0f} s; summary in {out / 'demo_summary.json'})")
    return summary


def _shipped_policy(
    backend: Backend, prompts: PromptSet, judge: AnswerJudge, max_new_tokens: int, echo: Callable[[str], Any]
) -> dict[str, Any]:
    policy = load_policy("default", model=backend.spec)
    shown = _showcase(prompts)
    texts = list(shown.texts)
    echo(f"Part 1: the shipped default policy ({type(policy).__name__}) on {len(shown)} built-in prompts it never saw.")
    before = backend.generate(texts, max_new_tokens=max_new_tokens, progress=False)
    with backend.steer(policy, record=True) as handle:
        after = backend.generate(texts, max_new_tokens=max_new_tokens, progress=False)
    routes = {r.prompt: r for r in handle.trace.routes} if handle.trace is not None else {}
    verdicts = {
        name: judge(texts, answers, [p.harmful for p in shown])
        for name, answers in (("before", before), ("after", after))
    }
    for i, prompt in enumerate(shown):
        route = routes.get(i)
        how = "" if route is None else f"  (probe: P(harmful) {route.score:.2f}, steered as {route.route})"
        echo(f"\n> {prompt.text}   [{'harmful' if prompt.harmful else 'benign'} prompt]{how}")
        for name, answers in (("before", before), ("after", after)):
            verdict = "refusal" if verdicts[name][i].refused else "answer"
            echo(f"  {name} ({verdict}):\n" + textwrap.indent(textwrap.fill(answers[i] or "(empty)", 96), "    "))
    counts = {
        name: {
            "benign_refused": sum(bool(v.refused) for v, p in zip(vs, shown, strict=True) if not p.harmful),
            "harmful_refused": sum(bool(v.refused) for v, p in zip(vs, shown, strict=True) if p.harmful),
        }
        for name, vs in verdicts.items()
    }
    n_benign = sum(not p.harmful for p in shown)
    echo(
        f"\nSubstring judge: benign prompts refused {counts['before']['benign_refused']} -> "
        f"{counts['after']['benign_refused']} of {n_benign}; harmful prompts refused "
        f"{counts['before']['harmful_refused']} -> {counts['after']['harmful_refused']} of {len(shown) - n_benign}."
    )
    return {
        "prompts": len(shown),
        "benign": n_benign,
        **{f"{k}_{name}": v for name, c in counts.items() for k, v in c.items()},
    }


def _showcase(prompts: PromptSet) -> PromptSet:
    """A fixed, readable selection: benign prompts that sound risky, and harmful ones."""
    benign = [p for p in prompts if p.category == "scary_benign"][: SHOWN * 2 // 3]
    harmful = [p for p in prompts if p.harmful][: SHOWN - len(benign)]
    return PromptSet("showcase", tuple(benign + harmful))


def _from_scratch(
    backend: Backend, prompts: PromptSet, judge: AnswerJudge, out: Path, label_tokens: int, echo: Callable[[str], Any]
) -> dict[str, Any]:
    echo(f"\nPart 2: the pipeline from scratch on the {len(prompts)} built-in prompts (too few for a good policy).")
    before = answer_prompts(backend, prompts, judge, out=out, max_new_tokens=label_tokens, progress=False)
    echo(f"  1/3 answered and labelled: {label_counts(a.label for a in before)}")
    states = backend.collect(list(prompts.texts), progress=False)
    echo("  2/3 residual stream at the last prompt token of every layer collected")
    fold = torch.tensor([id_hash(1, p.id) < 0.5 for p in prompts])
    refused_after: dict[int, bool] = {}
    for k, trained_on in enumerate((fold, ~fold)):
        rows = trained_on.nonzero().flatten().tolist()
        activations = ActivationSet(
            states=states[rows],
            layers=tuple(range(backend.n_layers)),
            ids=tuple(prompts.ids[i] for i in rows),
            labels=tuple(before[i].label for i in rows),
            model=backend.spec,
        )
        held_out = [i for i in range(len(prompts)) if i not in set(rows)]
        try:
            policy = train_conditional(
                activations,
                config=DEMO_TRAINING,
                progress=False,
            )
        except TrainingError as err:
            echo(f"  3/3 fold {k + 1}: no policy ({err}); its {len(held_out)} held-out prompts stay unsteered")
            refused_after.update((i, before[i].refused) for i in held_out)
            continue
        policy.save(out / f"policy_fold{k + 1}")
        with backend.steer(policy):
            answers = backend.generate(
                [prompts.texts[i] for i in held_out], max_new_tokens=label_tokens, progress=False
            )
        verdicts = judge([prompts.texts[i] for i in held_out], answers, [prompts.prompts[i].harmful for i in held_out])
        refused_after.update((i, refused(v)) for i, v in zip(held_out, verdicts, strict=True))
        echo(f"  3/3 fold {k + 1}: {_describe(policy)}; steered the {len(held_out)} prompts it did not train on")
    benign = [i for i, p in enumerate(prompts) if not p.harmful]
    harmful = [i for i, p in enumerate(prompts) if p.harmful]
    summary = {
        "benign_refused_before": sum(before[i].refused for i in benign),
        "benign_refused_after": sum(refused_after[i] for i in benign),
        "harmful_refused_before": sum(before[i].refused for i in harmful),
        "harmful_refused_after": sum(refused_after[i] for i in harmful),
        "benign": len(benign),
        "harmful": len(harmful),
    }
    echo(
        f"  benign refused {summary['benign_refused_before']} -> {summary['benign_refused_after']} of {len(benign)}; "
        f"harmful refused {summary['harmful_refused_before']} -> {summary['harmful_refused_after']} of {len(harmful)} "
        "(each 'after' from the fold that did not train on it)."
    )
    return summary


def _describe(policy: ConditionalSteering) -> str:
    parts = (("benign", policy.benign), ("harmful", policy.harmful))
    energies = ", ".join(f"{name} energy on {list(part.layers)}" for name, part in parts if part is not None)
    return f"probe at layer {policy.probe.layer}, {energies}"
