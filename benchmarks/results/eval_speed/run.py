"""Generation speed as ``evaluate`` counts it (tokens up to each answer's EOS over the wall time), base
against the shipped policy, alternating, on the same 24 OR-Bench-Hard test prompts: bfloat16, batch 32,
96 new tokens, as in the headline table. Writes speed.json beside this file.

    python benchmarks/results/eval_speed/run.py
"""

import json
import time
from contextlib import nullcontext
from pathlib import Path

from edshook.backends import make_backend
from edshook.data import select_prompts
from edshook.interventions import load_policy
from edshook.models import load_model

backend = make_backend(load_model(), "nnsight")
policy = load_policy("default", model=backend.spec)
prompts = [
    text for part in select_prompts(split="test", sets=["or_bench_hard"], limit=24).values() for text in part.texts
]
backend.generate_tokens(prompts[:4], max_new_tokens=8, batch_size=32, progress=False)
runs = []
for method in ("base", "shipped", "base", "shipped"):
    started = time.perf_counter()
    with backend.steer(policy) if method == "shipped" else nullcontext():
        rows = backend.generate_tokens(prompts, max_new_tokens=96, batch_size=32, progress=False)
    seconds = time.perf_counter() - started
    tokens = sum(len(row) for row in rows)
    runs.append(
        {"method": method, "tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1)}
    )
    print(runs[-1], flush=True)
result = {"command": "python benchmarks/results/eval_speed/run.py", "model": backend.loaded.describe(), "runs": runs}
(Path(__file__).parent / "speed.json").write_text(json.dumps(result, indent=1) + "\n")
