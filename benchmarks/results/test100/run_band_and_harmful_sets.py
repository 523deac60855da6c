"""n = 100 test prompts per set: the least-steering band (0.05 / 0.95) on the benign sets, then base,
shipped and that band on the three harmful sets. One report folder per run under runs/wide2/."""

import time
from pathlib import Path

from edshook.backends import make_backend
from edshook.data import select_prompts
from edshook.evaluation import Method, evaluate, write_report
from edshook.interventions import load_policy
from edshook.judges import AnswerJudge
from edshook.models import load_model

benign = select_prompts(split="test", sets=["or_bench_hard", "jbb_benign"], limit=100)
harmful = select_prompts(split="test", sets=["or_bench_toxic", "jbb_harmful", "harmbench_test"], limit=100)
print({k: len(v) for k, v in {**benign, **harmful}.items()}, flush=True)
backend = make_backend(load_model(), "nnsight")
judge = AnswerJudge.build("both")
shipped = load_policy("default", model=backend.spec)
band = shipped.replace(harmful_above=0.95)
runs = [
    ("band_benign", Method("band_0.05_0.95", (band,)), benign),
    ("base_harmful", Method("base", ()), harmful),
    ("shipped_harmful", Method("shipped", (shipped,)), harmful),
    ("band_harmful", Method("band_0.05_0.95", (band,)), harmful),
]
header = {"model": backend.loaded.describe(), **judge.describe(), "max_new_tokens": 96}
for folder, method, sets in runs:
    t = time.perf_counter()
    result = evaluate(backend, method, sets, judge, max_new_tokens=96, batch_size=32)
    write_report([result], Path("runs/wide2") / folder, header=header)
    print(folder, f"{time.perf_counter() - t:.0f} s", flush=True)
    print((Path("runs/wide2") / folder / "report.md").read_text().split("\n\n")[1], flush=True)
