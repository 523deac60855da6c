"""Decode speed of the backends, with and without interventions, on the embedded Qwen.

Writes benchmarks/results/overhead.json: tokens/s for plain transformers ``generate``, each backend
bare, each backend with a no-op intervention, and EDS with 1, 3 and 8 steered layers and K = 1, 3, 10;
ratios are taken against figures measured in the same run.

    python benchmarks/overhead.py [--prompts 8] [--new-tokens 16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from edshook.backends import make_backend
from edshook.interventions import EnergyModel, EnergySteering, PositionSelector, Site, StepSchedule
from edshook.models import load_model

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

    def __call__(self, hidden, call):
        return hidden


def timed(run, repeats: int) -> float:
    """Best wall time of ``repeats`` runs (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "overhead.json")
    args = parser.parse_args()
    prompts = (PROMPTS * 8)[: args.prompts]
    tokens = args.prompts * args.new_tokens
    started = time.perf_counter()
    load_start = time.perf_counter()
    plain = load_model(attn_implementation="eager")
    load_seconds = time.perf_counter() - load_start
    results: dict[str, dict] = {}

    def record(name: str, seconds: float, reference: str | None = None) -> None:
        results[name] = {"seconds": round(seconds, 3), "tokens_per_s": round(tokens / seconds, 2)}
        if reference is not None:
            results[name]["ratio_vs_" + reference] = round(results[reference]["seconds"] / seconds, 3)
        print(f"{name:42s} {tokens / seconds:7.2f} tok/s", results[name].get("ratio_vs_" + str(reference), ""), flush=True)

    tok = plain.tokenizer
    any_backend = make_backend(load_model(attn_implementation="eager"), "nnsight")
    batch = any_backend.encode(prompts)

    def hf_generate():
        with torch.no_grad():
            plain.model.generate(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                max_new_tokens=args.new_tokens,
                min_new_tokens=args.new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )

    record("transformers_generate", timed(hf_generate, args.repeats))
    torch.manual_seed(0)
    d_model = plain.d_model
    for library in ("transformer_lens", "nnsight"):
        backend = any_backend if library == "nnsight" else make_backend(load_model(attn_implementation="eager"), library)
        def run():
            backend.generate(
                prompts, max_new_tokens=args.new_tokens, batch_size=len(prompts), stop_at_eos=False, progress=False
            )

        bare = f"{library}"
        record(bare, timed(run, args.repeats), "transformers_generate")
        with backend.steer(NoOp(backend.n_layers)):
            record(f"{library}+noop", timed(run, args.repeats), bare)
        for n_layers in (1, 3, 8):
            layers = list(range(8, 8 + n_layers))
            energies = {layer: EnergyModel(d_model) for layer in layers}
            for steps in (1, 3, 10):
                policy = EnergySteering(energies, schedule=StepSchedule(steps=steps, step_size=0.5), positions=PositionSelector())
                with backend.steer(policy):
                    record(f"{library}+eds_L{n_layers}_K{steps}", timed(run, args.repeats), bare)
    out = {
        "model": "qwen2.5-coder-0.5b-instruct",
        "dtype": "float32",
        "attention": "eager",
        "prompts": args.prompts,
        "new_tokens": args.new_tokens,
        "repeats": args.repeats,
        "load_cached_model_seconds": round(load_seconds, 2),
        "machine": {"cpus": torch.get_num_threads(), "platform": platform.platform(), "torch": torch.__version__},
        "results": results,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "command": "python benchmarks/overhead.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
