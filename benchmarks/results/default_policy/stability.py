"""How firmly do the shipped policy's tuning prompts pick its probe band? Bootstrap draws, no generation.

    python benchmarks/results/default_policy/stability.py          # the shipped tuning, 24 per set
    python benchmarks/results/default_policy/stability.py tune48   # `edshook tune --limit 48` of the same policy

Reads a tuning record (answers.jsonl[.gz]: validation prompts, each answered unsteered, steered as
benign and steered as harmful, read by both judges; tuning.json), scores the prompts with the shipped
probe, checks that the rule of ``edshook tune`` makes the saved table again, and applies that rule to
1,000 bootstrap draws of the prompts (``band_stability``). Writes stability.json into the record's folder.
"""

import json
import sys
from pathlib import Path

from edshook.backends import make_backend
from edshook.data import Prompt, PromptSet
from edshook.evaluation import AnswerRecord, band_stability, choose_thresholds, read_answers
from edshook.evaluation.bands import DEFAULT_BANDS, ROUTES
from edshook.evaluation.tuning import route_outcomes
from edshook.interventions import load_policy
from edshook.models import load_model

RESAMPLES = 1000
here = Path(__file__).parent / (sys.argv[1] if len(sys.argv) > 1 else "")
answers_file = next(here.glob("answers.jsonl*"))
rows = [AnswerRecord.from_json(row) for row in read_answers(answers_file)]
saved = json.loads((here / "tuning.json").read_text())
sets, answers = {}, {}
for name in dict.fromkeys(r.set for r in rows):
    base = [r for r in rows if r.set == name and r.method == "base"]
    sets[name] = PromptSet(name, tuple(Prompt(r.id, r.prompt, r.harmful, name) for r in base))
    answers[name] = {route: [r for r in rows if r.set == name and r.method == route] for route in ROUTES}
    assert all(tuple(r.id for r in answers[name][route]) == sets[name].ids for route in ROUTES), name

backend = make_backend(load_model(), "nnsight")
policy = load_policy("default", model=backend.spec)
outcomes = route_outcomes(backend, policy, sets, answers, batch_size=24)  # as both tunings ran
tuning = choose_thresholds(outcomes, DEFAULT_BANDS, margin=saved["margin"])
assert tuning.table == saved["table"], "the saved tuning table, from these answers and the shipped probe"
chosen = (tuning.benign_below, tuning.harmful_above)
assert chosen == (saved["benign_below"], saved["harmful_above"])

shares = band_stability(outcomes, DEFAULT_BANDS, margin=saved["margin"], resamples=RESAMPLES)
result = {
    "n": tuning.n,
    "resamples": RESAMPLES,
    "chosen": list(chosen),
    "chosen_share": shares.get(chosen, 0.0),
    "chosen_rates": {key: rate.to_json() for key, rate in tuning.chosen_rates().items()},
    "bands": [{"benign_below": low, "harmful_above": high, "share": share} for (low, high), share in shares.items()],
}
(here / "stability.json").write_text(json.dumps(result, indent=1) + "\n")
print(tuning.summary())
print(f"band {chosen} picked in {100 * result['chosen_share']:.1f}% of {RESAMPLES} draws; most picked:")
for band in result["bands"][:8]:
    print(f"  {band['benign_below']:g} / {band['harmful_above']:g}: {100 * band['share']:.1f}%")
