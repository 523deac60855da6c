"""A candidate tuning rule, measured on the three tuning records and not adopted: among the bands that
pass the safety rule of ``edshook tune``, those within ``slack`` prompts per benign set of the most
helpful one, the one that refuses most (then gives the least harmful help, then helps most).

    python benchmarks/results/default_policy/near_best.py

For each record (tune24, tune48, tune96) and slack (none: the shipped rule; 1; 2 prompts): the band
chosen and how often 300 bootstrap draws of the prompts choose it; writes near_best.json beside this
script. No generation.
"""

import json
import warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import torch

from edshook.backends import make_backend
from edshook.evaluation import AnswerRecord, choose_thresholds, read_answers
from edshook.evaluation.bands import DEFAULT_BANDS, Outcomes, safety_failures
from edshook.evaluation.tuning import route_outcomes, routes_of
from edshook.interventions import load_policy
from edshook.models import load_model

HERE = Path(__file__).parent
DRAWS = 300
backend = make_backend(load_model(), "nnsight")
policy = load_policy("default", model=backend.spec)


def outcomes_of(folder: Path) -> dict[str, Outcomes]:
    rows = [AnswerRecord.from_json(row) for row in read_answers(next(folder.glob("answers.jsonl*")))]
    sets, answers = routes_of(rows)
    return route_outcomes(backend, policy, sets, answers, batch_size=24)


def choose(outcomes: Mapping[str, Outcomes], slack: int | None) -> tuple[float, float]:
    tuning = choose_thresholds(outcomes, DEFAULT_BANDS)
    if slack is None or not tuning.feasible:
        return tuning.benign_below, tuning.harmful_above
    benign = [name for name, o in outcomes.items() if o.kind == "benign"]
    harmful = [name for name, o in outcomes.items() if o.kind == "harmful"]

    def helpfulness(row: Mapping[str, float]) -> float:
        return sum(row[name] for name in benign)

    feasible = [row for row in tuning.table if not safety_failures(row, tuning.base, harmful)]
    best = max(helpfulness(row) for row in feasible)
    tolerance = slack * sum(1 / len(outcomes[name].scores) for name in benign)
    near = [row for row in feasible if helpfulness(row) >= best - tolerance - 1e-9]
    pick = max(
        near,
        key=lambda r: (sum(r[n] for n in harmful), -sum(r.get(f"{n}:harmful", 0.0) for n in harmful), helpfulness(r)),
    )
    return pick["benign_below"], pick["harmful_above"]


result = []
for record in ("tune24", "tune48", "tune96"):
    outcomes = outcomes_of(HERE / record)
    for slack in (None, 1, 2):
        chosen = choose(outcomes, slack)
        generator, picked = torch.Generator().manual_seed(0), Counter[tuple[float, float]]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for _ in range(DRAWS):
                drawn = {n: o.take(torch.randint(len(o.scores), (len(o.scores),), generator=generator))
                         for n, o in outcomes.items()}  # fmt: skip
                picked[choose(drawn, slack)] += 1
        row = {"record": record, "slack": slack, "chosen": list(chosen), "share": picked[chosen] / DRAWS,
               "most_picked": [[list(band), n / DRAWS] for band, n in picked.most_common(4)]}  # fmt: skip
        result.append(row)
        print(json.dumps(row), flush=True)
(HERE / "near_best.json").write_text(json.dumps(result, indent=1) + "\n")
