"""Shipped vs split candidate vs base on 100 test prompts of OR-Bench-Hard and all of JBB-benign."""

import time
from pathlib import Path

from edshook.backends import make_backend
from edshook.data import select_prompts
from edshook.evaluation import Method, evaluate, write_report
from edshook.interventions import load_policy
from edshook.judges import AnswerJudge
from edshook.models import load_model

sets = select_prompts(split="test", sets=["or_bench_hard", "jbb_benign"], limit=100)
print({k: len(v) for k, v in sets.items()}, flush=True)
backend = make_backend(load_model(), "nnsight")
judge = AnswerJudge.build("both")
methods = [
    Method("base", ()),
    Method("shipped", (load_policy("default", model=backend.spec),)),
    Method("split", (load_policy("runs/qwen-split", model=backend.spec),)),
]
results = []
for m in methods:
    t = time.perf_counter()
    results.append(evaluate(backend, m, sets, judge, max_new_tokens=96, batch_size=32))
    print(m.name, f"{time.perf_counter() - t:.0f} s", flush=True)
    write_report(
        results,
        Path("runs/wide"),
        header={"model": backend.loaded.describe(), **judge.describe(), "max_new_tokens": 96},
    )
print(Path("runs/wide/report.md").read_text())
