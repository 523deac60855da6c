"""The operations every backend offers: steer, generate, score answers, logits, collect.

A backend subclass only says how to run one forward pass and how to attach interventions to its
library's hook mechanism; prompt encoding (:mod:`~edshook.backends.batching`), the decoding loop
(:mod:`~edshook.backends.decoding`) and the hook registry (:mod:`~edshook.backends.hooks`) are
shared, so every backend decodes identically.
"""

from __future__ import annotations

import inspect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, cast

import torch
from jaxtyping import Float, Int
from torch import Tensor

from edshook.backends.batching import Batch, PromptEncoder, check_prompts
from edshook.backends.decoding import Decoded, ForwardStep, decode, eos_ids, prefill, token_bar, until_eos
from edshook.backends.hooks import HookRegistry, StateRecorder, SteeringHandle
from edshook.errors import PromptError, SiteError
from edshook.interventions.protocol import NONFINITE, Intervention, ModelSpec, Site
from edshook.interventions.selectors import check_layers
from edshook.models.loader import LoadedModel

__all__ = ["Backend", "ModelSpec"]


class Backend(ABC):
    """A language model behind one library's hook mechanism, with edshook's common operations.

    Args:
        loaded: The model, from :func:`edshook.load_model`.
        chat: Format prompts with the tokenizer's chat template (an error if it has none);
            ``False`` feeds the raw text, for base models.
    """

    library: str = ""

    def __init__(self, loaded: LoadedModel, *, chat: bool = True) -> None:
        self.loaded = loaded
        self.chat = chat
        self.tokenizer = loaded.tokenizer
        self.spec = ModelSpec(loaded.model_id, loaded.n_layers, loaded.d_model)
        self._eos = eos_ids(loaded.model.generation_config.eos_token_id, loaded.tokenizer.eos_token_id)
        pad = self.tokenizer.pad_token_id
        context = getattr(loaded.model.config.get_text_config(), "max_position_embeddings", None)
        self.prompts = PromptEncoder(
            self.tokenizer,
            chat=chat,
            context=context,
            pad=pad if pad is not None else self._eos[0],
            model_id=loaded.model_id,
        )
        self.hooks = HookRegistry(self._sync)
        parameters = inspect.signature(loaded.model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.model_id!r}, n_layers={self.n_layers}, d_model={self.d_model})"

    @property
    def n_layers(self) -> int:
        return self.spec.n_layers

    @property
    def d_model(self) -> int:
        return self.spec.d_model

    @property
    def device(self) -> torch.device:
        """Where inputs go: the device of the model's input embeddings."""
        embeddings: torch.nn.Module = self.loaded.model.get_input_embeddings()
        return next(embeddings.parameters()).device

    def site_device(self, site: Site) -> torch.device:
        """The device of the hidden state at ``site``: that of its decoder block (models may span devices)."""
        decoder: torch.nn.Module = self.loaded.model.get_decoder()  # type: ignore[no-untyped-call]
        block = cast(torch.nn.Module, decoder.layers[site.layer])  # type: ignore[index]
        return next(block.parameters()).device

    def decode(self, tokens: Sequence[int]) -> str:
        """Text of answer tokens, special tokens left out."""
        return str(self.tokenizer.decode(list(tokens), skip_special_tokens=True))

    def format(self, prompt: str, system_prompt: str | None = None) -> list[int]:
        """Token ids of one prompt as the model sees it: chat template and generation prompt included."""
        return self.prompts.format(prompt, system_prompt)

    def encode(self, prompts: Sequence[str], system_prompt: str | None = None) -> Batch:
        """Format and left-pad a list of prompts into one batch, in the order given."""
        return self.prompts.encode(prompts, self.device, system_prompt)

    def steer(self, *interventions: Intervention, record: bool = False) -> SteeringHandle:
        """Attach interventions until the handle is removed; use as ``with backend.steer(policy):``.

        Interventions attached together, or by nested ``steer`` calls, all run; at a shared site
        they run in the order they were attached. Sites are checked against the model first, so
        a wrong layer or a policy made for another model is an error, never a silent no-op. An
        intervention with a ``place`` method is moved to its sites' devices.

        Examples:
            >>> with backend.steer(policy, record=True) as handle:  # doctest: +SKIP
            ...     answers = backend.generate(["How do I kill a Python process?"])
            >>> handle.trace.records[0].energy_before  # doctest: +SKIP
        """
        if not interventions:
            raise SiteError("steer() needs at least one intervention.")
        for intervention in interventions:
            if not isinstance(intervention, Intervention):
                raise TypeError(f"{intervention!r} is not an intervention: it needs .sites and __call__(hidden, call).")
            check_layers([site.layer for site in intervention.sites], self.n_layers)
            check = getattr(intervention, "check_model", None)
            if check is not None:
                check(self.spec)
        sites = {site for intervention in interventions for site in intervention.sites}
        addresses = {site: self._address(site) for site in sorted(sites)}
        devices = {site: self.site_device(site) for site in sorted(sites)}
        for intervention in interventions:
            place = getattr(intervention, "place", None)
            if place is not None:
                place(devices)
        return self.hooks.attach(interventions, addresses, devices, record)

    @property
    def attached(self) -> tuple[SteeringHandle, ...]:
        """Handles currently attached, oldest first."""
        return self.hooks.handles

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 32,
        batch_size: int = 16,
        system_prompt: str | None = None,
        stop_at_eos: bool = True,
        progress: bool = True,
    ) -> list[str]:
        """Greedy answers, decoded, in the order of ``prompts``; attached interventions apply.

        ``stop_at_eos=False`` always decodes ``max_new_tokens`` tokens (for timing).

        Examples:
            >>> backend.generate(["How do I kill a Python process?"], max_new_tokens=16)  # doctest: +SKIP
        """
        rows = self.generate_tokens(
            prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, system_prompt=system_prompt,
            stop_at_eos=stop_at_eos, progress=progress,
        )  # fmt: skip
        return [self.decode(row) for row in rows]

    @torch.no_grad()
    def generate_tokens(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 32,
        batch_size: int = 16,
        system_prompt: str | None = None,
        stop_at_eos: bool = True,
        progress: bool = True,
    ) -> list[list[int]]:
        """Greedy answer token ids (end-of-sequence excluded), in the order of ``prompts``."""
        rows: list[list[int]] = [[] for _ in check_prompts(prompts)]
        with token_bar(len(rows), batch_size, max_new_tokens, enabled=progress) as bar:
            for batch in self._batches(prompts, batch_size, system_prompt, False, "generate"):
                decoded = self._decode(batch, max_new_tokens, eos=self._eos if stop_at_eos else (), on_step=bar.update)
                bar.update(max_new_tokens - len(decoded.tokens[0]))
                for i, row in zip(batch.prompts, decoded.tokens, strict=True):
                    rows[i] = until_eos(row, self._eos) if stop_at_eos else row
        return rows

    @torch.no_grad()
    def answer_logprob(
        self,
        prompts: Sequence[str],
        answers: Sequence[str],
        *,
        batch_size: int = 16,
        system_prompt: str | None = None,
        progress: bool = True,
    ) -> tuple[Float[Tensor, " prompt"], Int[Tensor, " prompt"]]:
        """Summed log-probability of each answer after its prompt, and its token count.

        Answers are fed token by token through the same decoding path as ``generate``, so attached
        interventions see them as generated tokens (perplexity = exp(-sum logprob / sum tokens)).
        """
        if len(answers) != len(check_prompts(prompts)):
            raise PromptError(f"{len(prompts)} prompts but {len(answers)} answers.")
        total = torch.zeros(len(prompts))
        counts = torch.zeros(len(prompts), dtype=torch.long)
        for batch in self._batches(prompts, batch_size, system_prompt, progress, "score"):
            indices = list(batch.prompts)
            rows = [
                self.tokenizer(answers[i], add_special_tokens=False)["input_ids"] or [self._eos[0]] for i in indices
            ]
            forced = torch.full((len(rows), max(map(len, rows))), -1, dtype=torch.long)
            for j, row in enumerate(rows):
                forced[j, : len(row)] = torch.tensor(row)
            decoded = self._decode(batch, forced.shape[1], forced=forced.to(self.device))
            total[indices] = decoded.logprob
            counts[indices] = torch.tensor([len(row) for row in rows])
        return total, counts

    @torch.no_grad()
    def logits(
        self, prompts: Sequence[str], *, batch_size: int = 16, system_prompt: str | None = None, progress: bool = True
    ) -> Float[Tensor, "prompt vocab"]:
        """Next-token logits after each prompt (the first answer token), float32 on the CPU."""
        rows: list[Tensor] = [torch.empty(0)] * len(check_prompts(prompts))
        for batch in self._batches(prompts, batch_size, system_prompt, progress, "logits"):
            out = self._run(prefill(batch)).float().cpu()
            for j, i in enumerate(batch.prompts):
                rows[i] = out[j]
        return torch.stack(rows)

    @torch.no_grad()
    def collect(
        self,
        prompts: Sequence[str],
        layers: Sequence[int] | None = None,
        *,
        position: int = -1,
        batch_size: int = 16,
        system_prompt: str | None = None,
        progress: bool = True,
    ) -> Float[Tensor, "prompt layer d_model"]:
        """The residual stream at the input of ``layers`` (default: all) at one prompt position.

        ``position`` counts from the end of the formatted prompt: -1 is the last token of the
        chat template, where the model decides how to answer. The result is float32 on the CPU,
        with layers in ascending order.

        Examples:
            >>> acts = backend.collect(["How do I kill a Python process?"], layers=[3, 12])  # doctest: +SKIP
            >>> acts.shape  # doctest: +SKIP
            torch.Size([1, 2, 896])
        """
        chosen = check_layers(range(self.n_layers) if layers is None else layers, self.n_layers)
        if position >= 0:
            raise SiteError(f"position counts from the end of the prompt and must be negative, got {position}.")
        out = torch.empty(len(check_prompts(prompts)), len(chosen), self.d_model)
        recorder = StateRecorder(chosen, position)
        with self.steer(recorder):
            for batch in self._batches(prompts, batch_size, system_prompt, progress, "collect"):
                if -position > int(batch.attention_mask.sum(-1).min()):
                    raise SiteError(f"position {position} lies before the start of a prompt in this batch.")
                self._run(prefill(batch))
                out[list(batch.prompts)] = torch.stack([recorder.states[layer] for layer in chosen], dim=1)
        return out

    def _batches(
        self, prompts: Sequence[str], batch_size: int, system_prompt: str | None, progress: bool, what: str
    ) -> Iterator[Batch]:
        return self.prompts.batches(
            prompts, batch_size, self.device, system_prompt=system_prompt, progress=progress, what=what
        )

    def _decode(self, batch: Batch, max_new_tokens: int, **options: Any) -> Decoded:
        decoded = decode(self._run, batch, max_new_tokens, pad=self.prompts.pad, **options)
        nonfinite = decoded.state.get(NONFINITE)
        if nonfinite is not None and int(nonfinite) > 0:
            warnings.warn(
                f"edshook: {int(nonfinite)} steered state(s) had NaN or infinite energy or gradient and were left "
                "unsteered.",
                RuntimeWarning,
                stacklevel=3,
            )
        return decoded

    def _run(self, step: ForwardStep) -> Float[Tensor, "batch vocab"]:
        """One forward pass with the attached interventions; returns the last position's logits."""
        kwargs: dict[str, Any] = {
            "input_ids": step.input_ids,
            "attention_mask": step.attention_mask,
            "position_ids": step.position_ids,
            "use_cache": step.cache is not None,
            "logits_to_keep": 1,
        }
        if step.cache is not None:
            kwargs[self._cache_argument] = step.cache
        with self.hooks.running(step):
            return self._forward(kwargs)[:, -1]

    @abstractmethod
    def _address(self, site: Site) -> str:
        """The library's own name for a site."""

    @abstractmethod
    def _forward(self, kwargs: dict[str, Any]) -> Float[Tensor, "batch pos vocab"]:
        """Run the model on ``kwargs`` with the attached interventions; return the logits."""

    def _sync(self) -> None:  # noqa: B027 - a no-op is the right default for libraries without hook registries
        """Make the library's hooks match the attached handles (nothing to do where hooks live in a trace)."""
