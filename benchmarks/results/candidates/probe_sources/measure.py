"""Does the harmfulness probe carry to a source it has not seen? Leave one benign and one harmful source out.

For every pair (benign source, harmful source) of the training prompts, ``source_transfer`` fits the
probe as ``edshook train`` does (``fit_probe``) on the other sources' prompts and scores the two
held-out ones: AUC between them, and the share above 0.3 (the shipped ``harmful_above``). Cached
training states of runs/qwen-train; no generation, no test prompt. Writes results.json beside this file.
"""

import json
from dataclasses import asdict
from pathlib import Path

from edshook.training import ActivationSet, source_transfer

PROBES = ([9], [11], [13], [15], [17], [20], [11, 12, 13], [13, 17, 20])
HARMFUL_ABOVE = 0.3

acts = ActivationSet.load("runs/qwen-train")
sources = [i.split(":")[0] for i in acts.ids]
results = {"sizes": {s: sources.count(s) for s in sorted(set(sources))}, "harmful_above": HARMFUL_ABOVE, "probes": []}
for layers in PROBES:
    pairs = [
        {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(t).items()}
        for t in source_transfer(acts, layers, threshold=HARMFUL_ABOVE)
    ]
    mean = {k: round(sum(p[k] for p in pairs) / len(pairs), 3) for k in ("auc", "benign_above", "harmful_above")}
    results["probes"].append({"layers": layers, "mean": mean, "pairs": pairs})
    print(layers, mean, flush=True)
out = Path(__file__).with_name("results.json")
out.write_text(json.dumps(results, indent=1) + "\n")
