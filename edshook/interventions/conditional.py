"""Conditional EDS: a probe decides, per prompt, whether to steer towards an answer or a refusal."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jaxtyping import Bool, Float
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from edshook.errors import PolicyError
from edshook.interventions.files import POLICY_FORMAT, POLICY_JSON, json_fields, read_record, sha256
from edshook.interventions.probe import LinearProbe
from edshook.interventions.protocol import ModelSpec, Site, SiteCall
from edshook.interventions.steering import EnergySteering

__all__ = ["ConditionalSteering", "load_policy"]

_PROBE = "probe.safetensors"
_PARTS = ("benign", "harmful")


class ConditionalSteering(nn.Module):
    """Routes each prompt to one of two EDS policies by a harmfulness probe read at prefill.

    A single energy trained on "helpful and safe refusal are good" pushes every state away from
    refusing, harmful or not. Here a :class:`LinearProbe` reads the last prompt token at its layer;
    prompts it scores at or below ``threshold`` are steered by ``benign`` (an energy of false refusal
    vs helpful answer, descended towards answering), the others by ``harmful`` (jailbreak vs safe
    refusal, descended towards refusing). The decision is made once per prompt at prefill and
    kept for every generated token.

    Args:
        probe: Reads P(harmful) at a layer no deeper than any steered layer.
        benign: The policy for prompts scored benign.
        harmful: The policy for prompts scored harmful; None leaves them unsteered.
        threshold: Probability above which a prompt counts as harmful (1.0: none, so every prompt is steered as benign).
        metadata: Anything worth keeping with the policy.

    Examples:
        >>> from edshook.interventions import EnergyModel
        >>> comply = EnergySteering({12: EnergyModel(896, hidden=(8,))})
        >>> ConditionalSteering(LinearProbe(10, 896), comply).layers
        (10, 12)
    """

    def __init__(
        self,
        probe: LinearProbe,
        benign: EnergySteering,
        harmful: EnergySteering | None = None,
        *,
        threshold: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
            raise PolicyError(f"ConditionalSteering needs a threshold between 0 and 1, got {threshold!r}.")
        steered = benign.layers + (harmful.layers if harmful is not None else ())
        if probe.layer > min(steered):
            raise PolicyError(
                f"The probe reads layer {probe.layer}, after the steered layer {min(steered)}: the decision would "
                "come too late for that layer. Fix: probe a layer no deeper than every steered layer."
            )
        widths = {probe.d_model} | {getattr(e, "d_model", probe.d_model) for p in (benign, harmful) if p for e in p.energies.values()}
        if len(widths) != 1:
            raise PolicyError(f"The probe and the energies read different widths {sorted(widths)}.")
        if harmful is not None and harmful.model != benign.model:
            raise PolicyError(f"The two policies come from different models ({benign.model} and {harmful.model}).")
        self.probe = probe.eval()
        self.benign = benign
        self.harmful = harmful
        self.threshold = float(threshold)
        self.metadata = dict(metadata or {})
        self._is_harmful: Bool[Tensor, " batch"] | None = None
        self.last_scores: Float[Tensor, " batch"] | None = None

    @property
    def model(self) -> ModelSpec | None:
        return self.benign.model

    @property
    def layers(self) -> tuple[int, ...]:
        steered = self.benign.layers + (self.harmful.layers if self.harmful is not None else ())
        return tuple(sorted({self.probe.layer, *steered}))

    @property
    def sites(self) -> tuple[Site, ...]:
        return tuple(Site(layer) for layer in self.layers)

    def replace(self, **changes: Any) -> ConditionalSteering:
        """The same parts with other settings, e.g. ``policy.replace(threshold=0.8)``."""
        settings = {"benign": self.benign, "harmful": self.harmful, "threshold": self.threshold}
        settings |= {"metadata": self.metadata} | changes
        return ConditionalSteering(self.probe, **settings)

    def check_model(self, spec: ModelSpec) -> None:
        for part in (self.benign, self.harmful):
            if part is not None:
                part.check_model(spec)

    def route(self, hidden: Float[Tensor, "batch d_model"]) -> Bool[Tensor, " batch"]:
        """True for the prompts the probe calls harmful."""
        self.last_scores = self.probe.probability(hidden).cpu()
        return (self.last_scores > self.threshold).to(hidden.device)

    def forward(self, hidden: Float[Tensor, "batch pos d_model"], call: SiteCall) -> Float[Tensor, "batch pos d_model"]:
        layer = call.site.layer
        if layer == self.probe.layer and call.phase == "prefill":
            self._is_harmful = self.route(hidden[:, -1])
        decided = self._is_harmful
        if decided is None or len(decided) != len(hidden):
            raise PolicyError(
                f"ConditionalSteering has no decision for this batch at layer {layer}: the probe at layer "
                f"{self.probe.layer} must see the prompt before any steered layer runs."
            )
        if layer in self.benign.layers:
            hidden = self.benign(hidden, call, rows=~decided)
        if self.harmful is not None and layer in self.harmful.layers:
            hidden = self.harmful(hidden, call, rows=decided)
        return hidden

    def extra_repr(self) -> str:
        return f"probe_layer={self.probe.layer}, threshold={self.threshold:g}"

    # ----------------------------------------------------------------- files
    def save(self, folder: str | Path) -> Path:
        """Write ``policy.json``, ``probe.safetensors`` and one sub-folder per part."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.probe.state_dict().items()}, str(folder / _PROBE))
        for name in _PARTS:
            part = getattr(self, name)
            if part is not None:
                part.save(folder / name)
        record = {
            "format": POLICY_FORMAT,
            "kind": "conditional_steering",
            "model": asdict(self.model) if self.model is not None else None,
            "probe": self.probe.config(),
            "probe_sha256": sha256(folder / _PROBE),
            "threshold": self.threshold,
            "parts": [name for name in _PARTS if getattr(self, name) is not None],
            "metadata": self.metadata,
        }
        (folder / POLICY_JSON).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, model: ModelSpec | None = None) -> ConditionalSteering:
        """Read a folder written by :meth:`save`; with ``model``, refuse one made for another model."""
        folder = Path(folder)
        record = read_record(folder, "conditional_steering")
        weights = folder / _PROBE
        if not weights.is_file() or sha256(weights) != record.get("probe_sha256"):
            raise PolicyError(f"{weights} is missing or does not match the checksum in {POLICY_JSON}.")
        try:
            parts = record["parts"]
            if not isinstance(parts, list) or "benign" not in parts or not set(parts) <= set(_PARTS):
                raise ValueError(f"'parts' must list 'benign' and optionally 'harmful', got {parts!r}")
            probe = LinearProbe(**json_fields(record["probe"], ("layer", "d_model")))
            probe.load_state_dict(load_file(str(weights)))
            policy = cls(
                probe,
                EnergySteering.load(folder / "benign", model),
                EnergySteering.load(folder / "harmful", model) if "harmful" in parts else None,
                threshold=record["threshold"],
                metadata=json_fields(record.get("metadata", {}), None),
            )
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as err:
            raise PolicyError(f"{folder / POLICY_JSON} is malformed: {err}") from err
        return policy


def load_policy(folder: str | Path, model: ModelSpec | None = None) -> EnergySteering | ConditionalSteering:
    """Read any policy folder written by edshook, whichever kind it holds."""
    folder = Path(folder)
    kind = read_record(folder)["kind"]
    loader = ConditionalSteering if kind == "conditional_steering" else EnergySteering
    return loader.load(folder, model)
