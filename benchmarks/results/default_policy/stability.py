"""How firmly do a policy's tuning prompts pick its probe band? Bootstrap draws, no generation.

    python benchmarks/results/default_policy/stability.py          # the shipped tuning, 48 per set (tune48/)
    python benchmarks/results/default_policy/stability.py tune24   # `edshook tune --limit 24` of the same policy
    python benchmarks/results/default_policy/stability.py benchmarks/results/qwen1.5b/tuning \
        --policy runs/q15-default --model qwen2.5-coder-1.5b-instruct   # the 1.5B record (weights not committed)

Reads a tuning record (answers.jsonl[.gz]: validation prompts, each answered unsteered, steered as
benign and steered as harmful, read by both judges; tuning.json), scores the prompts with the policy's
probe, checks that the rule of ``edshook tune`` makes the saved table again, and applies that rule to
1,000 bootstrap draws of the prompts (``band_stability``). Writes stability.json into the record's folder.
With ``--retune`` the stored verdicts are first settled as the model judge settles them now
(``Verdict.settled``: no model run) and the band is chosen again by the same rule; the answers,
tuning.json (with ``band_before_retune``) and tuning.md are rewritten.
"""

import argparse
import json
from dataclasses import replace
from pathlib import Path

from edshook.backends import make_backend
from edshook.evaluation import AnswerRecord, band_stability, choose_thresholds, read_answers, write_answers
from edshook.evaluation.bands import DEFAULT_BANDS
from edshook.evaluation.tuning import route_outcomes, routes_of
from edshook.interventions import load_policy
from edshook.models import DEFAULT_MODEL, load_model

RESAMPLES = 1000
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument(
    "record", nargs="?", default="tune48", help="The tuning record's folder, relative to this one or not."
)
parser.add_argument("--retune", action="store_true", help="Settle the verdicts as the judge does now; choose again.")
parser.add_argument("--policy", default="default")
parser.add_argument("--model", default=DEFAULT_MODEL, help="The policy's model.")
args = parser.parse_args()
here = Path(__file__).parent / args.record
retune = args.retune
answers_file = next(here.glob("answers.jsonl*"))
rows = [AnswerRecord.from_json(row) for row in read_answers(answers_file)]
if retune:
    rows = [replace(row, verdict=row.verdict.settled()) for row in rows]
saved = json.loads((here / "tuning.json").read_text())
sets, answers = routes_of(rows)

backend = make_backend(load_model(args.model), "nnsight")
policy = load_policy(args.policy, model=backend.spec)
outcomes = route_outcomes(backend, policy, sets, answers, batch_size=24)  # as both tunings ran
tuning = choose_thresholds(outcomes, DEFAULT_BANDS, margin=saved["margin"])
chosen = (tuning.benign_below, tuning.harmful_above)
if retune:
    before = (saved["benign_below"], saved["harmful_above"])
    print(f"band {before[0]:g} / {before[1]:g} before, {chosen[0]:g} / {chosen[1]:g} with the judge as it counts now")
    write_answers(rows, answers_file)
    record = {**saved, **tuning.to_json(), "band_before_retune": list(before)}
    (here / "tuning.json").write_text(json.dumps(record, indent=1) + "\n")
    (here / "tuning.md").write_text(tuning.markdown() + "\n")
else:
    assert tuning.table == saved["table"], "the saved tuning table, from these answers and the shipped probe"
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
