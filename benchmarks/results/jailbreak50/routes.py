"""The shipped policy's route for each jailbreak prompt of this run: its probe score and the part that steers it.

    python benchmarks/results/jailbreak50/routes.py

Writes routes.json beside this file: {set: {id: [score, route]}} and the count of each route per set.
"""

import collections
import json
from pathlib import Path

from edshook.backends import make_backend
from edshook.evaluation import read_answers
from edshook.interventions import load_policy
from edshook.models import load_model

here = Path(__file__).parent
rows = read_answers(here / "shipped" / "answers.jsonl.gz")
backend = make_backend(load_model(), "nnsight")
policy = load_policy("default", model=backend.spec)
with backend.steer(policy, record=True) as handle:
    backend.generate([r["prompt"] for r in rows], max_new_tokens=1, progress=False)
routes: dict[str, dict[str, list]] = collections.defaultdict(dict)
for step in handle.trace.routes:
    row = rows[step.prompt]
    routes[row["set"]][row["id"]] = [round(step.score, 4), step.route]
counts = {name: dict(collections.Counter(route for _, route in ids.values())) for name, ids in routes.items()}
(here / "routes.json").write_text(json.dumps({"counts": counts, "routes": routes}, indent=1) + "\n")
print(json.dumps(counts, indent=1))
