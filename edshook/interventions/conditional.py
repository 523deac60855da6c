"""Conditional EDS: a probe decides, per prompt, whether to steer towards an answer or a refusal."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Bool, Float
from safetensors.torch import save_file
from torch import Tensor, nn

from edshook.errors import PolicyError
from edshook.interventions.files import (
    MALFORMED,
    POLICY_FORMAT,
    POLICY_JSON,
    checked_tensors,
    json_fields,
    read_policy_file,
    sha256,
    write_policy_file,
)
from edshook.interventions.probe import LinearProbe
from edshook.interventions.protocol import ModelSpec, RouteRecord, Site, SiteCall
from edshook.interventions.steering import EnergySteering
from edshook.policies import shipped_policy_folder

__all__ = ["ConditionalSteering", "Routes", "load_policy"]

_PROBE = "probe.safetensors"
_PARTS = ("benign", "harmful")


class Routes:
    """One run's routing decision: which rows the benign part steers and which the harmful part does.

    Whether each part steers any row is read once, here (one wait for the device per generation), so
    that a part with no rows costs nothing at each token: on an accelerator a part otherwise runs
    every step on every row, masked.
    """

    def __init__(self, benign: Bool[Tensor, " batch"], harmful: Bool[Tensor, " batch"]) -> None:
        self.benign, self.harmful = benign, harmful
        self.any_benign, self.any_harmful = bool(benign.any()), bool(harmful.any())


class ConditionalSteering(nn.Module):
    """Routes each prompt to one of two EDS policies by a harmfulness probe read at prefill.

    A single energy trained on "helpful and safe refusal are good" pushes every state away from
    refusing, harmful or not. Here a :class:`LinearProbe` reads the last prompt token at its
    layers; a prompt it scores at or below ``benign_below`` is steered by ``benign`` (false refusal
    vs helpful answer, descended towards answering), one above ``harmful_above`` by ``harmful``
    (jailbreak vs safe refusal, descended towards refusing), and one in between, where the probe
    is unsure, is left alone. The decision is made once per prompt at prefill, kept in the run's
    :attr:`SiteCall.state` for every generated token, and never stored on the module, so one
    policy can serve interleaved generations.

    Args:
        probe: Reads P(harmful) at layers no deeper than any steered layer.
        benign: The policy for prompts scored benign.
        harmful: The policy for prompts scored harmful; None leaves them unsteered.
        benign_below: Probe probability at or below which a prompt is steered as benign.
        harmful_above: Probe probability above which a prompt is steered as harmful
            (equal to ``benign_below`` for no band; 1.0 to steer no prompt as harmful).
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
        benign_below: float = 0.5,
        harmful_above: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not all(isinstance(t, (int, float)) and math.isfinite(t) for t in (benign_below, harmful_above)) or not (
            0.0 <= benign_below <= harmful_above <= 1.0
        ):
            raise PolicyError(
                f"ConditionalSteering needs probe thresholds 0 <= benign_below <= harmful_above <= 1, got "
                f"benign_below={benign_below!r}, harmful_above={harmful_above!r}."
            )
        steered = benign.layers + (harmful.layers if harmful is not None else ())
        if probe.layer > min(steered):
            raise PolicyError(
                f"The probe reads layer {probe.layer}, after the steered layer {min(steered)}: the decision would "
                "come too late for that layer. Fix: probe layers no deeper than every steered layer."
            )
        parts = [part for part in (benign, harmful) if part is not None]
        widths = {probe.d_model} | {getattr(e, "d_model", probe.d_model) for p in parts for e in p.energies.values()}
        if len(widths) != 1:
            raise PolicyError(f"The probe and the energies read different widths {sorted(widths)}.")
        if harmful is not None and harmful.model != benign.model:
            raise PolicyError(f"The two policies come from different models ({benign.model} and {harmful.model}).")
        self.probe = probe.eval()
        self.benign = benign
        self.harmful = harmful
        self.benign_below = float(benign_below)
        self.harmful_above = float(harmful_above)
        self.metadata = dict(metadata or {})

    @property
    def model(self) -> ModelSpec | None:
        return self.benign.model

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted({*self.probe.layers, *self.steered_layers}))

    @property
    def steered_layers(self) -> tuple[int, ...]:
        """The layers an energy moves; a probe layer outside them is only read."""
        return self.benign.layers + (self.harmful.layers if self.harmful is not None else ())

    @property
    def sites(self) -> tuple[Site, ...]:
        return tuple(Site(layer) for layer in self.layers)

    def replace(self, **changes: Any) -> ConditionalSteering:
        """The same parts with other settings, e.g. ``policy.replace(harmful_above=0.8)``.

        ``threshold=t`` is short for ``benign_below=t, harmful_above=t`` (no band).
        """
        if "threshold" in changes:
            t = changes.pop("threshold")
            changes = {"benign_below": t, "harmful_above": t} | changes
        settings: dict[str, Any] = {"benign": self.benign, "harmful": self.harmful, "metadata": self.metadata}
        settings |= {"benign_below": self.benign_below, "harmful_above": self.harmful_above} | changes
        return ConditionalSteering(self.probe, **settings)

    def place(self, devices: Mapping[Site, torch.device]) -> None:
        """Move the probe to its decision layer's device and each part to its layers' devices."""
        self.probe.to(devices[Site(self.probe.layer)])
        for part in (self.benign, self.harmful):
            if part is not None:
                part.place(devices)

    def check_model(self, spec: ModelSpec) -> None:
        for part in (self.benign, self.harmful):
            if part is not None:
                part.check_model(spec)

    def route(self, scores: Float[Tensor, " batch"]) -> Routes:
        """Which prompts each part steers, from their probe probabilities."""
        return Routes(scores <= self.benign_below, scores > self.harmful_above)

    def forward(self, hidden: Float[Tensor, "batch pos d_model"], call: SiteCall) -> Float[Tensor, "batch pos d_model"]:
        layer = call.site.layer
        if call.phase == "prefill" and layer in self.probe.layers:
            self._decide(hidden, call)
        if layer not in self.steered_layers:
            return hidden
        routes = call.state.get(self)
        if not isinstance(routes, Routes) or len(routes.benign) != len(hidden):
            raise PolicyError(
                f"ConditionalSteering has no decision for this batch at layer {layer}: the probe at layer "
                f"{self.probe.layer} must see the prompt (prefill) before any steered layer runs."
            )
        if routes.any_benign and layer in self.benign.layers:
            hidden = self.benign(hidden, call, rows=routes.benign)
        if routes.any_harmful and self.harmful is not None and layer in self.harmful.layers:
            hidden = self.harmful(hidden, call, rows=routes.harmful)
        return hidden

    def _decide(self, hidden: Tensor, call: SiteCall) -> None:
        """Keep this layer's last-token state; at the probe's deepest layer, score and route the batch."""
        features: dict[int, Tensor] = call.state.setdefault((self, "features"), {})
        features[call.site.layer] = hidden[:, -1]
        if call.site.layer != self.probe.layer:
            return
        states = torch.stack([features[layer].to(hidden.device) for layer in self.probe.layers], dim=1)
        scores = self.probe.probability(states).to(hidden.device)
        routes = self.route(scores)
        call.state[self] = routes
        if call.trace is not None:
            for row, (score, benign, harmful) in enumerate(
                zip(scores.tolist(), routes.benign.tolist(), routes.harmful.tolist(), strict=True)
            ):
                name = "benign" if benign else "harmful" if harmful else "none"
                call.trace.routes.append(RouteRecord(call.prompt(row), score, name))  # type: ignore[arg-type]

    def describe(self) -> str:
        """A few lines a reader can check: the probe, the thresholds, each part."""
        lines = [
            f"probe on layers {list(self.probe.layers)}: steered as benign at P(harmful) <= {self.benign_below:g}, "
            f"as harmful above {self.harmful_above:g}"
            + (", unsteered between" if self.benign_below < self.harmful_above else ""),
            f"benign energy (towards answering), {self.benign.describe()}",
        ]
        if self.harmful is not None:
            lines.append(f"harmful energy (towards refusing), {self.harmful.describe()}")
        return "\n".join(lines)

    def extra_repr(self) -> str:
        band = f"benign_below={self.benign_below:g}, harmful_above={self.harmful_above:g}"
        return f"probe_layers={self.probe.layers}, {band}"

    def save(self, folder: str | Path, *, weights_dtype: torch.dtype = torch.float32) -> Path:
        """Write ``policy.json``, ``probe.safetensors`` and one sub-folder per part."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.probe.state_dict().items()}, str(folder / _PROBE))
        parts = {name: part for name, part in (("benign", self.benign), ("harmful", self.harmful)) if part is not None}
        for name, part in parts.items():
            part.save(folder / name, weights_dtype=weights_dtype)
        record = {
            "format": POLICY_FORMAT,
            "kind": "conditional_steering",
            "model": asdict(self.model) if self.model is not None else None,
            "probe": self.probe.config(),
            "probe_sha256": sha256(folder / _PROBE),
            "benign_below": self.benign_below,
            "harmful_above": self.harmful_above,
            "parts": list(parts),
            "metadata": self.metadata,
        }
        write_policy_file(folder, record)
        return folder

    @classmethod
    def load(cls, folder: str | Path, model: ModelSpec | None = None) -> ConditionalSteering:
        """Read a folder written by :meth:`save`; with ``model``, refuse one made for another model."""
        folder = Path(folder)
        record = read_policy_file(folder, "conditional_steering")
        tensors = checked_tensors(folder / _PROBE, record.get("probe_sha256"))
        try:
            parts = record["parts"]
            if not isinstance(parts, list) or "benign" not in parts or not set(parts) <= set(_PARTS):
                raise ValueError(f"'parts' must list 'benign' and optionally 'harmful', got {parts!r}")
            probe = LinearProbe(**json_fields(record["probe"], ("layers", "d_model")))
            probe.load_state_dict(tensors)
            return cls(
                probe,
                EnergySteering.load(folder / "benign", model),
                EnergySteering.load(folder / "harmful", model) if "harmful" in parts else None,
                benign_below=record["benign_below"],
                harmful_above=record["harmful_above"],
                metadata=json_fields(record.get("metadata", {}), None),
            )
        except MALFORMED as err:
            raise PolicyError(f"{folder / POLICY_JSON} is malformed: {err}") from err


def load_policy(folder: str | Path, model: ModelSpec | None = None) -> EnergySteering | ConditionalSteering:
    """Read any policy folder written by edshook, or a policy shipped with edshook by name (``"default"``).

    With ``model``, a policy made for another model is refused. Only JSON and safetensors are read.

    Examples:
        >>> policy = load_policy("default")  # doctest: +SKIP
    """
    path = shipped_policy_folder(str(folder)) or Path(folder)
    kind = read_policy_file(path)["kind"]
    return ConditionalSteering.load(path, model) if kind == "conditional_steering" else EnergySteering.load(path, model)
