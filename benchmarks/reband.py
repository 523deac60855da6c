"""Answers of the shipped policy at a new probe band, from its stored answers at the old one.

A conditional policy answers each prompt along one route, chosen by the prompt's probe score: the
benign energy at or below ``benign_below``, the harmful energy above ``harmful_above``, unsteered in
between. When the band moves, only the prompts whose route changes get a new answer; the others keep
theirs (``edshook tune`` chooses bands on the same premise). This script scores the prompts of each
stored record, answers the changed ones with the policy at the new band (judged by both judges), and
writes the policy's answers at the new band into a new evaluation folder beside the old one, as
method ``shipped_<benign_below>_<harmful_above>``, with the scores, routes and changed ids in
``rebanded.json``. ``python benchmarks/recount.py`` then writes its report.

    python benchmarks/reband.py --old 0.05 0.3            # the shipped band is the new one
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edshook.backends import Backend, make_backend
from edshook.data import Prompt, PromptSet
from edshook.evaluation import AnswerRecord, Method, evaluate, read_answers, write_answers
from edshook.interventions import ConditionalSteering, load_policy
from edshook.judges import AnswerJudge
from edshook.models import load_model

RESULTS = Path(__file__).resolve().parent / "results"
RECORDS = (  # (evaluation folder, the method that is the shipped policy there, the new folder)
    ("test100/benign", "shipped", "test100/band_0.4_benign"),
    ("test100/shipped_harmful", "shipped", "test100/band_0.4_harmful"),
    ("jailbreak50/shipped", "eds", "jailbreak50/band_0.4"),
)


def route(score: float, band: tuple[float, float]) -> str:
    return "benign" if score <= band[0] else "harmful" if score > band[1] else "none"


def reband(
    source: Path,
    method: str,
    out: Path,
    policy: ConditionalSteering,
    old: tuple[float, float],
    backend: Backend,
    judge: AnswerJudge,
) -> dict:
    """The answers of ``method`` in ``source`` at the policy's band, into ``out``: those whose route differs
    between ``old`` and the new band are answered again."""
    rows = [row for row in read_answers(source / "answers.jsonl.gz") if row["method"] == method]
    states = backend.collect([row["prompt"] for row in rows], list(policy.probe.layers), batch_size=16, progress=True)
    scores = policy.probe.probability(states).cpu().tolist()
    new = (policy.benign_below, policy.harmful_above)
    label = f"shipped_{new[0]:g}_{new[1]:g}"
    changed = [i for i, score in enumerate(scores) if route(score, old) != route(score, new)]
    sets: dict[str, list[Prompt]] = {}
    for i in changed:
        row = rows[i]
        sets.setdefault(row["set"], []).append(Prompt(row["id"], row["prompt"], row["harmful"], row["set"]))
    started = time.perf_counter()
    if sets:
        chosen = {name: PromptSet(name, tuple(items)) for name, items in sets.items()}
        result = evaluate(backend, Method(method, (policy,)), chosen, judge, batch_size=16, progress=True)
        fresh = {(r.set, r.id): r for s in result.sets.values() for r in s.answers}
        for i in changed:
            rows[i] = fresh[rows[i]["set"], rows[i]["id"]].to_json()
    write_answers([AnswerRecord.from_json({**row, "method": label}) for row in rows], out / "answers.jsonl.gz")
    report = json.loads((source / "report.json").read_text())
    report["methods"] = {label: report["methods"][method]}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    record = {
        "source": str(source.relative_to(RESULTS)),
        "old_band": list(old),
        "new_band": list(new),
        "answered_again": len(changed),
        "seconds": round(time.perf_counter() - started, 1),
        "prompts": [
            {"set": row["set"], "id": row["id"], "score": round(score, 4), "old_route": route(score, old),
             "new_route": route(score, new)}
            for row, score in zip(rows, scores, strict=True)
        ],
    }  # fmt: skip
    (out / "rebanded.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=float, nargs=2, required=True, help="The band the stored answers were made at.")
    parser.add_argument("--policy", default="default", help="The policy at its new band.")
    args = parser.parse_args()
    backend = make_backend(load_model(), "nnsight")
    policy = load_policy(args.policy, model=backend.spec)
    judge = AnswerJudge.build("both")
    for source, method, out in RECORDS:
        old = (args.old[0], args.old[1])
        record = reband(RESULTS / source, method, RESULTS / out, policy, old, backend, judge)
        print(out, record["answered_again"], "answered again", f"{record['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
