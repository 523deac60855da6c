"""The nnsight backend: interventions run inside an ``nnsight`` trace on each forward pass."""

from __future__ import annotations

import warnings
from typing import Any

from torch import Tensor

from edshook.backends.base import Backend
from edshook.interventions.protocol import Site
from edshook.models.loader import LoadedModel

__all__ = ["NnsightBackend"]


class NnsightBackend(Backend):
    """Runs a model through ``nnsight.LanguageModel``; each forward pass is one trace.

    Examples:
        >>> backend = NnsightBackend(load_model())  # doctest: +SKIP
        >>> backend.lm.model.layers[3]  # doctest: +SKIP
    """

    library = "nnsight"

    def __init__(self, loaded: LoadedModel, *, chat: bool = True) -> None:
        from nnsight import LanguageModel

        super().__init__(loaded, chat=chat)
        with warnings.catch_warnings():
            # nnsight 0.8 marks LanguageModel deprecated in favour of a class that loads by repo id;
            # wrapping an already loaded model still needs LanguageModel.
            warnings.filterwarnings("ignore", message="LanguageModel is deprecated")
            self.lm = LanguageModel(loaded.model, tokenizer=loaded.tokenizer)

    def _address(self, site: Site) -> str:
        return f"model.layers[{site.layer}].input"

    def _forward(self, kwargs: dict[str, Any]) -> Tensor:
        sites = self.hooks.active_sites()
        with self.lm.trace(**kwargs):
            for site in sites:
                block = self.lm.model.layers[site.layer]
                hidden = block.input
                edited = self.hooks.apply(site, hidden)
                if edited is not hidden:
                    block.input = edited
            logits = self.lm.output.logits.save()
        return logits  # type: ignore[no-any-return]
