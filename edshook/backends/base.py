"""What every backend shares: prompt formatting, left-padded batches, greedy decoding, collection.

A backend subclass only says how to run one forward pass and how to attach interventions to its
library's hook mechanism; everything else lives here once, so both backends decode identically.
"""

from __future__ import annotations

import inspect
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from tqdm.auto import tqdm
from transformers import DynamicCache

from edshook.errors import ChatTemplateError, PromptError, SiteError
from edshook.interventions.protocol import EnergyTrace, Intervention, ModelSpec, Phase, Site, SiteCall
from edshook.interventions.selectors import check_layers
from edshook.models.loader import LoadedModel

__all__ = ["Backend", "Batch", "ForwardStep", "ModelSpec", "SteeringHandle"]


@dataclass(frozen=True)
class Batch:
    """Prompts as token ids, left-padded so that position -1 is every prompt's last token."""

    input_ids: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]

    @property
    def position_ids(self) -> Int[Tensor, "batch pos"]:
        return (self.attention_mask.cumsum(-1) - 1).clamp(min=0)


@dataclass(frozen=True)
class ForwardStep:
    """One forward pass of a decoding run, with what interventions need to know about it."""

    input_ids: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch total"]
    position_ids: Int[Tensor, "batch pos"]
    cache: DynamicCache | None
    phase: Phase
    step: int
    real: Bool[Tensor, "batch pos"]


@dataclass(eq=False)
class SteeringHandle:
    """Interventions attached to a backend; ``remove()`` (or leaving the ``with`` block) detaches them.

    Attributes:
        interventions: What was attached, in the order it runs at each site.
        addresses: The backend's own name for each site, resolved at attach time.
        trace: Energies recorded while attached, when ``record=True``.
    """

    interventions: tuple[Intervention, ...]
    addresses: dict[Site, str]
    trace: EnergyTrace | None
    _detach: Callable[[], None] = field(repr=False)
    _removed: bool = field(default=False, repr=False)

    def remove(self) -> None:
        """Detach this handle's interventions (and only them); calling it twice is harmless."""
        if not self._removed:
            self._removed = True
            self._detach()

    @property
    def active(self) -> bool:
        return not self._removed

    def __enter__(self) -> SteeringHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class _Recorder:
    """A read-only intervention that keeps one position of the hidden state at each of its sites."""

    def __init__(self, layers: Sequence[int], position: int) -> None:
        self._sites = tuple(Site(layer) for layer in layers)
        self.position = position
        self.states: dict[int, Tensor] = {}

    @property
    def sites(self) -> tuple[Site, ...]:
        return self._sites

    def __call__(self, hidden: Tensor, call: SiteCall) -> Tensor:
        if call.phase == "prefill":
            self.states[call.site.layer] = hidden[:, self.position].detach().float().cpu()
        return hidden


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
        self._attached: list[SteeringHandle] = []
        self._lock = threading.RLock()
        self._current: ForwardStep | None = None
        self._trace: EnergyTrace | None = None
        self._cache_argument = "cache" if "cache" in inspect.signature(loaded.model.forward).parameters else "past_key_values"
        self._eos = _eos_ids(loaded)
        pad = self.tokenizer.pad_token_id
        self._pad = pad if pad is not None else self._eos[0]

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
        return next(self.loaded.model.parameters()).device

    # ----------------------------------------------------------------- prompts and batches
    def format(self, prompt: str, system_prompt: str | None = None) -> list[int]:
        """Token ids of one prompt as the model sees it: chat template and generation prompt included."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError(f"Prompts must be non-empty strings, got {prompt!r}.")
        if not self.chat:
            text = prompt if system_prompt is None else f"{system_prompt}\n\n{prompt}"
            return self._fits(self.tokenizer(text, add_special_tokens=True)["input_ids"])
        if self.tokenizer.chat_template is None:
            raise ChatTemplateError(
                f"Model {self.spec.model_id!r} has no chat template. Fix: create the backend with chat=False "
                "to feed prompts as plain text, or set tokenizer.chat_template."
            )
        messages = [{"role": "user", "content": prompt}]
        if system_prompt is not None:
            messages.insert(0, {"role": "system", "content": system_prompt})
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self._fits(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _fits(self, ids: list[int]) -> list[int]:
        """Refuse prompts longer than the model's context instead of running past it."""
        limit = getattr(self.loaded.model.config.get_text_config(), "max_position_embeddings", None)
        if limit is not None and len(ids) >= limit:
            raise PromptError(
                f"A prompt is {len(ids)} tokens long; the model's context is {limit} tokens. Fix: shorten or drop it."
            )
        return ids

    def encode(self, prompts: Sequence[str], system_prompt: str | None = None) -> Batch:
        """Format and left-pad a list of prompts into one batch."""
        rows = [self.format(prompt, system_prompt) for prompt in _check_prompts(prompts)]
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
        return Batch(ids.to(self.device), mask.to(self.device))

    def _batches(
        self, prompts: Sequence[str], batch_size: int, system_prompt: str | None, progress: bool, what: str
    ) -> Iterator[tuple[list[int], Batch]]:
        """Batches of similar length (less padding), with the original indices of their prompts."""
        prompts = _check_prompts(prompts)
        if batch_size < 1:
            raise PromptError(f"batch_size must be at least 1, got {batch_size}.")
        lengths = [len(self.format(prompt, system_prompt)) for prompt in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for chunk in tqdm(chunks, desc=what, unit="batch", disable=not progress or len(chunks) < 2):
            yield chunk, self.encode([prompts[i] for i in chunk], system_prompt)

    # ----------------------------------------------------------------- public operations
    def steer(self, *interventions: Intervention, record: bool = False) -> SteeringHandle:
        """Attach interventions until the handle is removed; use as ``with backend.steer(policy):``.

        Interventions attached together, or by nested ``steer`` calls, all run; at a shared site
        they run in the order they were attached. Sites are checked against the model first, so
        a wrong layer or a policy made for another model is an error, never a silent no-op.

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
        with self._lock:
            addresses = {site: self._address(site) for iv in interventions for site in iv.sites}
            trace = EnergyTrace() if record else None
            handle = SteeringHandle(interventions, addresses, trace, _detach=lambda: self._detach(handle))
            self._attached.append(handle)
            self._sync()
        return handle

    @property
    def attached(self) -> tuple[SteeringHandle, ...]:
        """Handles currently attached, oldest first."""
        return tuple(self._attached)

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
        answers: list[str] = [""] * len(_check_prompts(prompts))
        for indices, batch in self._batches(prompts, batch_size, system_prompt, progress, "generate"):
            tokens = self._greedy(batch, max_new_tokens, stop_at_eos)
            for i, row in zip(indices, tokens):
                answers[i] = self.tokenizer.decode(row, skip_special_tokens=True)
        return answers

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
        if len(answers) != len(_check_prompts(prompts)):
            raise PromptError(f"{len(prompts)} prompts but {len(answers)} answers.")
        total = torch.zeros(len(prompts))
        counts = torch.zeros(len(prompts), dtype=torch.long)
        for indices, batch in self._batches(prompts, batch_size, system_prompt, progress, "score"):
            rows = [self.tokenizer(answers[i], add_special_tokens=False)["input_ids"] or [self._eos[0]] for i in indices]
            forced = torch.full((len(rows), max(map(len, rows))), -1, dtype=torch.long)
            for j, row in enumerate(rows):
                forced[j, : len(row)] = torch.tensor(row)
            _, logprob = self._decode(batch, forced.shape[1], forced=forced.to(self.device))
            total[indices] = logprob
            counts[indices] = torch.tensor([len(row) for row in rows])
        return total, counts

    @torch.no_grad()
    def logits(
        self, prompts: Sequence[str], *, batch_size: int = 16, system_prompt: str | None = None, progress: bool = True
    ) -> Float[Tensor, "prompt vocab"]:
        """Next-token logits after each prompt (the first answer token), float32 on the CPU."""
        rows: list[Tensor | None] = [None] * len(_check_prompts(prompts))
        for indices, batch in self._batches(prompts, batch_size, system_prompt, progress, "logits"):
            out = self._run(self._prefill(batch)).float().cpu()
            for j, i in enumerate(indices):
                rows[i] = out[j]
        return torch.stack(rows)  # type: ignore[arg-type]

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
        out = torch.empty(len(_check_prompts(prompts)), len(chosen), self.d_model)
        recorder = _Recorder(chosen, position)
        with self.steer(recorder):
            for indices, batch in self._batches(prompts, batch_size, system_prompt, progress, "collect"):
                if -position > batch.attention_mask.sum(-1).min():
                    raise SiteError(f"position {position} lies before the start of a prompt in this batch.")
                self._run(self._prefill(batch))
                out[indices] = torch.stack([recorder.states[layer] for layer in chosen], dim=1)
        return out

    # ----------------------------------------------------------------- decoding
    def _prefill(self, batch: Batch, cache: DynamicCache | None = None) -> ForwardStep:
        return ForwardStep(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            cache=cache,
            phase="prefill",
            step=0,
            real=batch.attention_mask.bool(),
        )

    def _greedy(self, batch: Batch, max_new_tokens: int, stop_at_eos: bool = True) -> list[list[int]]:
        """Greedy decoding with a KV cache; each row stops at its first end-of-sequence token."""
        tokens, _ = self._decode(batch, max_new_tokens, stop_at_eos=stop_at_eos)
        return [_until_eos(row, self._eos) for row in tokens] if stop_at_eos else tokens

    def _decode(
        self, batch: Batch, max_new_tokens: int, *, stop_at_eos: bool = True, forced: Tensor | None = None
    ) -> tuple[list[list[int]], Tensor]:
        """Decode with a KV cache, greedily or feeding ``forced`` tokens (``[batch, T]``, -1 past a row's end).

        Returns the tokens and, per row, the summed log-probability of the tokens it chose or was fed.
        """
        n = batch.input_ids.shape[0]
        eos = torch.tensor(self._eos if stop_at_eos and forced is None else [], dtype=torch.long, device=self.device)
        step = self._prefill(batch, DynamicCache())
        finished = torch.zeros(n, dtype=torch.bool, device=self.device)
        logprob = torch.zeros(n, dtype=torch.float32, device=self.device)
        generated: list[Tensor] = []
        for index in range(max_new_tokens):
            logits = self._run(step).float()
            if forced is not None:
                finished = forced[:, index] < 0
                token = forced[:, index].clamp_min(0)
            else:
                token = logits.argmax(-1)
            chosen = logits.log_softmax(-1).gather(-1, token[:, None]).squeeze(-1)
            logprob += torch.where(finished, torch.zeros_like(chosen), chosen)
            token = torch.where(finished, torch.full_like(token, self._pad), token)
            generated.append(token)
            finished |= torch.isin(token, eos)
            if bool(finished.all()) or index == max_new_tokens - 1:
                break
            ones = torch.ones(n, 1, dtype=step.attention_mask.dtype, device=self.device)
            step = ForwardStep(
                input_ids=token[:, None],
                attention_mask=torch.cat([step.attention_mask, ones], dim=-1),
                position_ids=step.position_ids[:, -1:] + 1,
                cache=step.cache,
                phase="decode",
                step=index + 1,
                real=ones.bool(),
            )
        tokens = torch.stack(generated, dim=1).tolist() if generated else [[] for _ in range(n)]
        return tokens, logprob.cpu()

    def _run(self, step: ForwardStep) -> Float[Tensor, "batch vocab"]:
        """One forward pass with the attached interventions; returns the last position's logits."""
        kwargs = {
            "input_ids": step.input_ids,
            "attention_mask": step.attention_mask,
            "position_ids": step.position_ids,
            "use_cache": step.cache is not None,
            "logits_to_keep": 1,
        }
        if step.cache is not None:
            kwargs[self._cache_argument] = step.cache
        with self._lock:
            self._current = step
            try:
                return self._forward(kwargs)[:, -1]
            finally:
                self._current = None

    def _site_call(self, site: Site, hidden: Tensor, handle: SteeringHandle) -> SiteCall:
        """What an intervention is told; outside edshook's own loop every real token counts as prompt."""
        step = self._current
        if step is None or step.real.shape != hidden.shape[:2]:
            real = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
            return SiteCall(site, "prefill", 0, real, handle.trace)
        return SiteCall(site, step.phase, step.step, step.real, handle.trace)

    def _apply(self, site: Site, hidden: Tensor) -> Tensor:
        """Run every attached intervention at ``site`` in attach order."""
        for handle in self._attached:
            for intervention in handle.interventions:
                if site in intervention.sites:
                    hidden = intervention(hidden, self._site_call(site, hidden, handle))
        return hidden

    def _active_sites(self) -> list[Site]:
        return sorted({site for handle in self._attached for iv in handle.interventions for site in iv.sites})

    def _detach(self, handle: SteeringHandle) -> None:
        with self._lock:
            if handle in self._attached:
                self._attached.remove(handle)
            self._sync()

    # ----------------------------------------------------------------- library-specific
    @abstractmethod
    def _address(self, site: Site) -> str:
        """The library's own name for a site."""

    @abstractmethod
    def _forward(self, kwargs: dict) -> Float[Tensor, "batch pos vocab"]:
        """Run the model on ``kwargs`` with the attached interventions; return the logits."""

    def _sync(self) -> None:
        """Make the library's hooks match the attached handles (nothing to do where hooks live in a trace)."""


def _check_prompts(prompts: Sequence[str]) -> Sequence[str]:
    if isinstance(prompts, str):
        raise PromptError("Pass a list of prompts, not a single string: backend.generate([prompt]).")
    if len(prompts) == 0:
        raise PromptError("The prompt list is empty: pass at least one prompt.")
    return prompts


def _eos_ids(loaded: LoadedModel) -> list[int]:
    configured = loaded.model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    if loaded.tokenizer.eos_token_id is not None:
        ids.append(loaded.tokenizer.eos_token_id)
    return sorted({int(i) for i in ids if i is not None})


def _until_eos(row: list[int], eos: list[int]) -> list[int]:
    for i, token in enumerate(row):
        if token in eos:
            return row[:i]
    return row
