"""The TransformerLens backend: interventions run as hooks on the bridge's HookPoints."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import Tensor

from edshook.backends.base import Backend
from edshook.interventions.protocol import Site
from edshook.models.loader import LoadedModel

__all__ = ["TransformerLensBackend"]


class TransformerLensBackend(Backend):
    """Runs a model through a TransformerLens ``TransformerBridge``.

    Booting the bridge rewires the loaded model in place (its blocks become bridge components and
    its attention switches to eager), so give this backend a model of its own.

    Examples:
        >>> backend = TransformerLensBackend(load_model())  # doctest: +SKIP
        >>> backend.bridge.hook_dict["blocks.3.hook_resid_pre"]  # doctest: +SKIP
    """

    library = "transformer_lens"

    def __init__(self, loaded: LoadedModel, *, chat: bool = True) -> None:
        from transformer_lens.model_bridge import TransformerBridge

        super().__init__(loaded, chat=chat)
        with _quiet("transformer_lens"):
            self.bridge = TransformerBridge.boot_transformers(
                loaded.model_id,
                hf_model=loaded.model,
                tokenizer=loaded.tokenizer,
                device=self.device,
                dtype=loaded.model.dtype,
            )
        self._lens_hooks: dict[Site, tuple[Any, Any]] = {}  # site -> (HookPoint, LensHandle)

    def _address(self, site: Site) -> str:
        return f"blocks.{site.layer}.hook_{site.kind}"

    def _forward(self, kwargs: dict[str, Any]) -> Tensor:
        logits: Tensor = self.loaded.model(**kwargs).logits
        return logits

    def _sync(self) -> None:
        active = set(self.hooks.active_sites())
        for site in [site for site in self._lens_hooks if site not in active]:
            point, handle = self._lens_hooks.pop(site)
            handle.hook.remove()
            point.fwd_hooks = [h for h in point.fwd_hooks if h is not handle]  # TransformerLens's own list
        for site in active - self._lens_hooks.keys():
            point = self.bridge.hook_dict[self._address(site)]
            lens_handle = point.add_hook(self._hook_for(site))  # type: ignore[arg-type]
            self._lens_hooks[site] = (point, lens_handle)

    def _hook_for(self, site: Site) -> Callable[[Tensor, object], Tensor]:
        def hook(hidden: Tensor, hook: object) -> Tensor:
            return self.hooks.apply(site, hidden)

        return hook


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Only errors from ``logger_name`` while the block runs (booting the bridge logs notes meant for its
    own users); the logger's level is restored afterwards."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
