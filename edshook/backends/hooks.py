"""The hook registry: which interventions are attached, in what order, and what each is told."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor

from edshook.backends.decoding import ForwardStep
from edshook.interventions.protocol import EnergyTrace, Intervention, Site, SiteCall

__all__ = ["HookRegistry", "StateRecorder", "SteeringHandle"]


@dataclass(eq=False)
class SteeringHandle:
    """Interventions attached to a backend; ``remove()`` (or leaving the ``with`` block) detaches them.

    Attributes:
        interventions: What was attached, in the order it runs at each site.
        addresses: The backend's own name for each site, resolved at attach time.
        devices: The device of each site's hidden state, where the interventions were placed.
        trace: Energies and routes recorded while attached, when ``record=True``.
    """

    interventions: tuple[Intervention, ...]
    addresses: dict[Site, str]
    devices: dict[Site, torch.device]
    trace: EnergyTrace | None
    _detach: Callable[[SteeringHandle], None] = field(repr=False)
    _removed: bool = field(default=False, repr=False)

    @property
    def active(self) -> bool:
        """Whether this handle's interventions are still attached."""
        return not self._removed

    def remove(self) -> None:
        """Detach this handle's interventions (and only them); calling it twice is harmless."""
        if not self._removed:
            self._removed = True
            self._detach(self)

    def __enter__(self) -> SteeringHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class HookRegistry:
    """Attached handles, oldest first, and the forward pass now running (guarded by one lock).

    Backends call :meth:`apply` from their library's hook at each site; it runs every attached
    intervention at that site, in attach order, with a :class:`SiteCall` for the current step.
    """

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._handles: list[SteeringHandle] = []
        self._lock = threading.RLock()
        self._current: ForwardStep | None = None
        self._on_change = on_change

    @property
    def handles(self) -> tuple[SteeringHandle, ...]:
        return tuple(self._handles)

    def attach(
        self,
        interventions: tuple[Intervention, ...],
        addresses: dict[Site, str],
        devices: dict[Site, torch.device],
        record: bool,
    ) -> SteeringHandle:
        with self._lock:
            handle = SteeringHandle(
                interventions, addresses, devices, EnergyTrace() if record else None, _detach=self._detach
            )
            self._handles.append(handle)
            self._on_change()
        return handle

    def _detach(self, handle: SteeringHandle) -> None:
        with self._lock:
            if handle in self._handles:
                self._handles.remove(handle)
            self._on_change()

    def active_sites(self) -> list[Site]:
        return sorted({site for handle in self._handles for iv in handle.interventions for site in iv.sites})

    @contextmanager
    def running(self, step: ForwardStep) -> Iterator[None]:
        """Mark ``step`` as the forward pass in progress, so site calls describe it."""
        with self._lock:
            self._current = step
            try:
                yield
            finally:
                self._current = None

    def apply(self, site: Site, hidden: Tensor) -> Tensor:
        """Run every attached intervention at ``site`` in attach order."""
        for handle in self._handles:
            for intervention in handle.interventions:
                if site in intervention.sites:
                    hidden = intervention(hidden, self._call(site, hidden, handle))
        return hidden

    def _call(self, site: Site, hidden: Tensor, handle: SteeringHandle) -> SiteCall:
        """What an intervention is told; outside edshook's own loop every real token counts as prompt."""
        step = self._current
        if step is None or step.real.shape != hidden.shape[:2]:
            real = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
            return SiteCall(site, "prefill", 0, real, trace=handle.trace)
        return SiteCall(site, step.phase, step.step, step.real, step.prompts, step.state, handle.trace)


class StateRecorder:
    """A read-only intervention that keeps one position of the hidden state at each of its sites."""

    def __init__(self, layers: Sequence[int], position: int) -> None:
        self.sites = tuple(Site(layer) for layer in layers)
        self.position = position
        self.states: dict[int, Tensor] = {}

    def __call__(self, hidden: Tensor, call: SiteCall) -> Tensor:
        if call.phase == "prefill":
            self.states[call.site.layer] = hidden[:, self.position].detach().float().cpu()
        return hidden
