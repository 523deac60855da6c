"""Does a probe read harmfulness better off the prompt's last own token, with more harmful sources, or
with another L2 penalty?

The shipped probe reads layer 13 at the last chat-template token (position -1), where the model has
already settled how to answer; ``backend.collect`` also reads position -6, the prompt's own last token
(for Qwen2.5 the template ends ``<|im_end|> \\n <|im_start|> assistant \\n``). Every variant is scored
two ways, with no generation and no test prompt:

- leave-source-out (``source_transfer``): fit without one benign and one harmful source, score those two;
- validation rows of each training source (the rows ``fit_probe`` holds out): share above 0.3.

"wider" adds StrongREJECT and the HarmBench validation behaviours to the harmful sources, less every
text that is also in the standard train, val or test part (``deduplicate``). Their answers are not
generated: their labels carry the prompt's ground truth only, which is all a probe reads. The L2 rows
refit the shipped probe (position -1, layer 13, shipped sources; ``l2=1e-3``) with other penalties.
States are cached in runs/probe-positions. Writes results.json beside this file.
"""

import json
from dataclasses import asdict
from pathlib import Path

import torch

from edshook.backends import make_backend
from edshook.data import deduplicate, load_set, standard_splits
from edshook.judges import label
from edshook.models import load_model
from edshook.training import ActivationSet, TrainConfig, fit_probe, source_transfer, validation_rows

POSITIONS = (-1, -6)
LAYERS = (9, 13, 17)
EXTRA = ("strongreject", "harmbench_val")
L2 = (0.0, 1e-4, 1e-2, 1e-1, 1.0)
HARMFUL_ABOVE = 0.3
CACHE = Path("runs/probe-positions")

trained = ActivationSet.load("runs/qwen-train")
splits = standard_splits()
text = {p.id: p.text for part in splits.values() for p in part}
kept = deduplicate([*splits.values(), *(load_set(name) for name in EXTRA)])[len(splits) :]
extra = [p for s in kept for p in s]
ids = (*trained.ids, *(p.id for p in extra))
texts = [text[i] for i in trained.ids] + [p.text for p in extra]
labels = (*trained.labels, *(label(p.harmful, refused=False) for p in extra))


def states(position: int) -> ActivationSet:
    folder = CACHE / str(position)
    if (folder / "activations.json").is_file():
        return ActivationSet.load(folder)
    backend = make_backend(load_model(), "nnsight")
    read = backend.collect(texts, LAYERS, position=position, batch_size=32)
    acts = ActivationSet(read, LAYERS, ids, labels, backend.spec, position)
    acts.save(folder)
    return acts


by_position = {position: states(position) for position in POSITIONS}
both = ActivationSet(  # positions side by side, read by a probe as if they were layers 0 and 1
    torch.stack([by_position[p].layer(13) for p in POSITIONS], dim=1), (0, 1), ids, labels, trained.model
)
sources = [i.split(":")[0] for i in ids]
is_shipped = torch.arange(len(ids)) < len(trained)  # the training run's prompts come first
variants = [(f"position {p}, layer {layer}", by_position[p], [layer]) for p in POSITIONS for layer in LAYERS]
variants.append(("positions -1 and -6, layer 13", both, [0, 1]))


def mean(pairs: list[dict]) -> dict[str, float]:
    """The mean AUC and shares above HARMFUL_ABOVE over leave-source-out pairs."""
    return {k: round(sum(p[k] for p in pairs) / len(pairs), 3) for k in ("auc", "benign_above", "harmful_above")}


def val_above(acts: ActivationSet, layers: list[int], l2: float = 1e-3) -> dict[str, float]:
    """Share of each source's validation rows above HARMFUL_ABOVE, the probe fitted on the training rows."""
    probe, _ = fit_probe(acts, layers, l2=l2)
    rows = validation_rows(acts.ids, TrainConfig())
    x = torch.stack([acts.layer(layer) for layer in layers], dim=1)
    with torch.no_grad():
        above = (torch.sigmoid(probe(x)) > HARMFUL_ABOVE).tolist()
    names = [i.split(":")[0] for i in acts.ids]
    shares = {}
    for name in sorted(set(names)):
        picked = [a for a, n, v in zip(above, names, rows.tolist(), strict=True) if n == name and v]
        shares[name] = round(sum(picked) / len(picked), 3)
    return shares


results = {
    "sizes": {s: sources.count(s) for s in sorted(set(sources))},
    "extra_dropped_as_duplicates": {n: len(load_set(n)) - len(s) for n, s in zip(EXTRA, kept, strict=True)},
    "harmful_above": HARMFUL_ABOVE,
    "variants": [],
}
for name, acts, layers in variants:
    for pool, rows in (("shipped sources", is_shipped), ("wider", torch.ones(len(ids), dtype=torch.bool))):
        chosen = acts.subset(rows)
        pairs = [
            {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(t).items()}
            for t in source_transfer(chosen, layers, threshold=HARMFUL_ABOVE)
        ]
        shipped_pairs = [p for p in pairs if p["harmful"] not in ("strongreject", "harmbench")]
        row = {
            "variant": name,
            "sources": pool,
            "mean_over_shipped_pairs": mean(shipped_pairs),
            "val_above": val_above(chosen, layers),
        }
        results["variants"].append({**row, "pairs": pairs})
        print(name, pool, row["mean_over_shipped_pairs"], row["val_above"], flush=True)
shipped = by_position[-1].subset(is_shipped)
for l2 in L2:
    pairs = [asdict(t) for t in source_transfer(shipped, [13], threshold=HARMFUL_ABOVE, l2=l2)]
    by_pair = {
        f"{p['benign']} / {p['harmful']}": [round(p["benign_above"], 3), round(p["harmful_above"], 3)] for p in pairs
    }
    row = {
        "variant": f"position -1, layer 13, l2 {l2:g}",
        "sources": "shipped sources",
        "mean_over_shipped_pairs": mean(pairs),
    }
    results["variants"].append({**row, "val_above": val_above(shipped, [13], l2), "above_by_pair": by_pair})
    print(row["variant"], row["mean_over_shipped_pairs"], flush=True)
Path(__file__).with_name("results.json").write_text(json.dumps(results, indent=1) + "\n")
