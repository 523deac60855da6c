"""Shipped policy vs base on 100 harmless test prompts: next-token KL and the base answers' perplexity.

The figures `edshook eval --harmless` reports as means, here with a per-prompt KL (to read its
spread and which prompts move) and a bootstrap interval; writes harmless.json beside this script.
"""

import json
import time
from pathlib import Path

import torch

from edshook.backends import make_backend
from edshook.evaluation import harmless_capability
from edshook.evaluation.metrics import kl_divergence, perplexity
from edshook.interventions import load_policy
from edshook.models import load_model

N, TOKENS, BATCH, RESAMPLES = 100, 96, 32, 1000

started = time.perf_counter()
backend = make_backend(load_model(), "nnsight")
policy = load_policy("default", model=backend.spec)
capability = harmless_capability(backend, None, N, max_new_tokens=TOKENS, batch_size=BATCH)
prompts, answers = list(capability.prompts), list(capability.answers)


def answer_perplexity() -> tuple[float, torch.Tensor, torch.Tensor]:
    logprob, counts = backend.answer_logprob(prompts, answers, batch_size=BATCH, progress=False)
    return perplexity(logprob, counts), logprob, counts


base_ppl, base_logprob, counts = answer_perplexity()
with backend.steer(policy, record=True) as handle:
    steered_logits = backend.logits(prompts, batch_size=BATCH, progress=False)
    steered_ppl, steered_logprob, _ = answer_perplexity()
kl = kl_divergence(capability.logits, steered_logits)

generator = torch.Generator().manual_seed(0)
draws = torch.randint(0, N, (RESAMPLES, N), generator=generator)
kl_draws = kl[draws].mean(1)
ratio_draws = torch.exp((base_logprob[draws].sum(1) - steered_logprob[draws].sum(1)) / counts[draws].sum(1))
route = {r.prompt: r.route for r in handle.trace.routes}
routes = [route[i] for i in range(N)]
result = {
    "command": "python benchmarks/results/test100/run_harmless.py",
    "model": backend.loaded.describe(),
    "set": "refusal_harmless_test",
    "n": N,
    "max_new_tokens": TOKENS,
    "harmless_kl": round(float(kl.mean()), 5),
    "harmless_kl_interval": [round(float(q), 5) for q in kl_draws.quantile(torch.tensor([0.025, 0.975]))],
    "perplexity": {"base": round(base_ppl, 4), "shipped": round(steered_ppl, 4)},
    "perplexity_ratio_interval": [round(float(q), 4) for q in ratio_draws.quantile(torch.tensor([0.025, 0.975]))],
    "routes": {name: routes.count(name) for name in sorted(set(routes))},
    "harmless_kl_by_route": {
        name: round(sum(k for k, r in zip(kl.tolist(), routes, strict=True) if r == name) / routes.count(name), 5)
        for name in sorted(set(routes))
    },
    "wall_seconds": round(time.perf_counter() - started, 1),
    "prompts": [
        {"prompt": p, "route": r, "kl": round(float(k), 5), "base_answer": a}
        for p, r, k, a in zip(prompts, routes, kl.tolist(), answers, strict=True)
    ],
}
out = Path(__file__).parent / "harmless.json"
out.write_text(json.dumps(result, indent=1) + "\n")
print(json.dumps({k: v for k, v in result.items() if k != "prompts"}, indent=1))
