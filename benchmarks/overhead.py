"""Decode speed of the backends, bare and with interventions, against plain transformers ``generate``.

Every ratio compares figures measured in the same run. On the CPU the embedded Qwen2.5-Coder-0.5B
runs (``--grid`` adds EDS at 1, 3 and 8 layers x K = 1, 3, 10); on a GPU, where nothing can be
downloaded, random-weight models of real configurations run instead (speed does not depend on the
values of the weights):

    python benchmarks/overhead.py                                    # CPU -> results/overhead.json
    python benchmarks/overhead.py --device cuda --dtype bfloat16 --attention sdpa --random-weights qwen2.5-7b \\
        --batch-sizes 1 32 --new-tokens 64 --out benchmarks/results/gpu/overhead_7b.json

Rows: ``transformers_generate``; per backend ``bare`` (ratio vs generate), ``noop`` (a no-op
intervention on every layer, ratio vs bare), ``eds`` (3 layers, K = 5 normalised steps, an
untrained d -> 512 -> 256 -> 1 energy, the last prompt token and every generated token: ratio vs bare)
and, on the embedded model or a random one of its shape, ``default`` (the shipped policy as users
run it: the probe routes each prompt, the routed part steers the last prompt token and the first 16
generated tokens, gated; ratio vs bare, with how many prompts each route took).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from edshook.backends import Backend, make_backend
from edshook.interventions import (
    ConditionalSteering,
    EnergyModel,
    EnergySteering,
    Site,
    SiteCall,
    StepSchedule,
    load_policy,
)
from edshook.models import LoadedModel, load_model, resolve_device
from edshook.models.synthetic import SYNTHETIC_CONFIGS, random_model

SHIPPED_SHAPE = "qwen2.5-0.5b"
"""The random configuration of the shipped policy's model: its ``default`` row runs there too."""

PROMPTS = [
    "How do I kill a Python process?",
    "Write a haiku about the sea.",
    "What household chemicals should never be mixed?",
    "Explain recursion to a beginner.",
    "How do I shoot a good photo at night?",
    "What is the difference between TCP and UDP?",
    "How can I get rid of a wasp nest under my roof?",
    "Give me three tips for better sleep.",
]


class NoOp:
    """Touches every layer and returns the hidden state unchanged."""

    def __init__(self, n_layers: int) -> None:
        self.sites = tuple(Site(layer) for layer in range(n_layers))

    def __call__(self, hidden: Tensor, call: SiteCall) -> Tensor:
        return hidden


def timed(run: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Best wall time of ``repeats`` runs after one warm-up (the least disturbed by other work)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def load(args: argparse.Namespace) -> LoadedModel:
    if args.random_weights:
        return random_model(
            args.random_weights, dtype=args.dtype, device=args.device, attn_implementation=args.attention
        )
    return load_model(dtype=args.dtype, device=args.device, attn_implementation=args.attention)


def measure(args: argparse.Namespace, batch_size: int) -> dict[str, dict[str, Any]]:
    """Every row of one batch size: seconds, tokens/s and the ratio against its reference row."""
    device = resolve_device(args.device)
    prompts = (PROMPTS * (batch_size // len(PROMPTS) + 1))[:batch_size]
    tokens = batch_size * args.new_tokens
    rows: dict[str, dict[str, Any]] = {}

    def record(name: str, seconds: float, reference: str | None = None) -> None:
        rows[name] = {"seconds": round(seconds, 4), "tokens_per_s": round(tokens / seconds, 2)}
        if reference is not None:
            rows[name]["ratio"] = round(rows[reference]["seconds"] / seconds, 3)
            rows[name]["ratio_vs"] = reference
        print(
            f"batch {batch_size:3d}  {name:28s} {tokens / seconds:9.2f} tok/s  {rows[name].get('ratio', '')}",
            flush=True,
        )

    plain = load(args)
    batch = make_backend(plain, "nnsight").encode(prompts)

    def hf_generate() -> None:
        with torch.no_grad():
            plain.model.generate(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                max_new_tokens=args.new_tokens,
                min_new_tokens=args.new_tokens,
                do_sample=False,
                pad_token_id=plain.tokenizer.pad_token_id,
            )

    record("transformers_generate", timed(hf_generate, args.repeats, device))
    for library in args.libraries:
        backend = make_backend(plain if library == "nnsight" else load(args), library)
        run = _runner(backend, prompts, args.new_tokens)
        record(library, timed(run, args.repeats, device), "transformers_generate")
        with backend.steer(NoOp(backend.n_layers)):
            record(f"{library}+noop", timed(run, args.repeats, device), library)
        grid = [(3, 5)] + ([(n, k) for n in (1, 3, 8) for k in (1, 3, 10)] if args.grid else [])
        for n_layers, steps in dict.fromkeys(grid):
            with backend.steer(untrained_eds(backend, n_layers, steps)):
                name = f"{library}+eds" if (n_layers, steps) == (3, 5) else f"{library}+eds_L{n_layers}_K{steps}"
                record(name, timed(run, args.repeats, device), library)
        if args.random_weights in (None, SHIPPED_SHAPE):
            policy = shipped_policy(backend, random_weights=args.random_weights is not None)
            with backend.steer(policy):
                record(f"{library}+default", timed(run, args.repeats, device), library)
            with backend.steer(policy, record=True) as handle:
                run()
            rows[f"{library}+default"]["routes"] = dict(Counter(route.route for route in handle.trace.routes))
    return rows


def shipped_policy(backend: Backend, *, random_weights: bool) -> ConditionalSteering:
    """The shipped policy; on a random model of its shape, without the record of the model it was trained on.

    Random states route and gate differently from the real model's (the ``routes`` field says how),
    so there the row times the shipped objects, not the shipped behaviour.
    """
    policy = load_policy("default", None if random_weights else backend.spec)
    assert isinstance(policy, ConditionalSteering)
    if not random_weights:
        return policy
    parts = {name: getattr(policy, name) for name in ("benign", "harmful")}
    return policy.replace(**{name: part.replace(model=None) for name, part in parts.items() if part is not None})


def _runner(backend: Backend, prompts: list[str], new_tokens: int) -> Callable[[], object]:
    def run() -> object:
        return backend.generate_tokens(
            prompts, max_new_tokens=new_tokens, batch_size=len(prompts), stop_at_eos=False, progress=False
        )

    return run


def untrained_eds(backend: Backend, n_layers: int, steps: int) -> EnergySteering:
    torch.manual_seed(0)
    first = backend.n_layers // 3
    energies = {layer: EnergyModel(backend.d_model) for layer in range(first, first + n_layers)}
    return EnergySteering(energies, schedule=StepSchedule(steps=steps, step_size=0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random-weights", choices=sorted(SYNTHETIC_CONFIGS), default=None)
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16 or auto.")
    parser.add_argument("--attention", default="eager", help="eager or sdpa.")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8])
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--libraries", nargs="+", default=["transformer_lens", "nnsight"])
    parser.add_argument("--grid", action="store_true", help="Also EDS at 1, 3, 8 layers x K = 1, 3, 10.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "overhead.json")
    args = parser.parse_args()
    started = time.perf_counter()
    results = {str(size): measure(args, size) for size in args.batch_sizes}
    machine: dict[str, Any] = {
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "torch": torch.__version__,
    }
    if resolve_device(args.device).type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name()
    out = {
        "model": args.random_weights or "qwen2.5-coder-0.5b-instruct",
        "weights": "random" if args.random_weights else "embedded",
        **{key: getattr(args, key) for key in ("device", "dtype", "attention", "new_tokens", "repeats")},
        "machine": machine,
        "results_by_batch_size": results,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "command": "python benchmarks/overhead.py "
        + " ".join(
            f"--{key.replace('_', '-')} {' '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in vars(args).items()
            if key != "out" and value not in (None, False)
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
