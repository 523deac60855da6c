"""Where decode time goes with the shipped policy on a GPU: torch.profiler over 32 tokens of one prompt.

A random-weight model of the shipped policy's shape (Qwen2.5-0.5B) in bfloat16 through nnsight runs
bare, with the shipped policy (its model record dropped, ``overhead.shipped_policy``) and with an
untrained 3-layer EDS (``overhead.untrained_eds``); each is timed by ``overhead.timed`` (a warm-up,
then one timed run), and each steered one then profiled once.

    python benchmarks/gpu_profile.py [cuda] > benchmarks/results/gpu/profile.txt

Prints tokens/s per run, the profiler's table (by CPU time) and the count of calls that wait for the
device or copy between host and device.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).parent))
from overhead import shipped_policy, timed, untrained_eds

from edshook.backends import make_backend
from edshook.models.synthetic import random_model

NEW_TOKENS = 32


def main() -> None:
    device = sys.argv[1] if len(sys.argv) > 1 else "cuda"
    loaded = random_model("qwen2.5-0.5b", dtype="bfloat16", device=device, attn_implementation="sdpa")
    backend = make_backend(loaded, "nnsight")
    prompts = ["How do I kill a Python process?"]

    def run(policy: object) -> None:
        with nullcontext() if policy is None else backend.steer(policy):
            backend.generate_tokens(prompts, max_new_tokens=NEW_TOKENS, stop_at_eos=False, progress=False)

    for name, policy in (
        ("bare", None),
        ("default", shipped_policy(backend, random_weights=True)),
        ("eds", untrained_eds(backend, 3, 5)),
    ):
        seconds = timed(lambda: run(policy), 1, torch.device(device))  # noqa: B023
        print(f"{name}: {NEW_TOKENS / seconds:.1f} tok/s", flush=True)
        if policy is None:
            continue
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
        with profile(activities=activities) as profiled:
            run(policy)
            if device == "cuda":
                torch.cuda.synchronize()
        averages = profiled.key_averages()
        print(averages.table(sort_by="cpu_time_total", row_limit=30, max_name_column_width=60))
        waits = ("Synchronize", "Memcpy", "item", "nonzero")
        print(
            name, "sync-like calls:", {e.key: e.count for e in averages if any(w in e.key for w in waits)}, flush=True
        )


if __name__ == "__main__":
    main()
