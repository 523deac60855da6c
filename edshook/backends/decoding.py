"""The decoding loop shared by every backend: greedy or forced tokens, one forward pass per step, a KV cache."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from tqdm.auto import tqdm
from transformers import DynamicCache

from edshook.backends.batching import Batch
from edshook.interventions.protocol import Phase

__all__ = ["Decoded", "ForwardStep", "decode", "eos_ids", "prefill", "token_bar", "until_eos"]


@dataclass(frozen=True)
class ForwardStep:
    """One forward pass of a decoding run, with what interventions are told about it.

    ``state`` is one dict for the whole run (prefill and every decode step): interventions keep
    per-run decisions there, never on themselves.
    """

    input_ids: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch total"]
    position_ids: Int[Tensor, "batch pos"]
    cache: DynamicCache | None
    phase: Phase
    step: int
    real: Bool[Tensor, "batch pos"]
    prompts: tuple[int, ...] = ()
    state: dict[Any, Any] = field(default_factory=dict)

    def next(self, token: Int[Tensor, " batch"]) -> ForwardStep:
        """The decode step that feeds ``token`` after this one."""
        ones = torch.ones(len(token), 1, dtype=self.attention_mask.dtype, device=token.device)
        return ForwardStep(
            input_ids=token[:, None],
            attention_mask=torch.cat([self.attention_mask, ones], dim=-1),
            position_ids=self.position_ids[:, -1:] + 1,
            cache=self.cache,
            phase="decode",
            step=self.step + 1,
            real=ones.bool(),
            prompts=self.prompts,
            state=self.state,
        )


@dataclass(frozen=True)
class Decoded:
    """Tokens chosen (or fed) per row, and the summed log-probability of each row's tokens."""

    tokens: list[list[int]]
    logprob: Float[Tensor, " batch"]
    state: dict[Any, Any]


def prefill(batch: Batch, cache: DynamicCache | None = None) -> ForwardStep:
    """The prompt pass of a batch (the first step of a run)."""
    return ForwardStep(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        cache=cache,
        phase="prefill",
        step=0,
        real=batch.attention_mask.bool(),
        prompts=batch.prompts,
    )


def decode(
    run: Callable[[ForwardStep], Float[Tensor, "batch vocab"]],
    batch: Batch,
    max_new_tokens: int,
    *,
    pad: int,
    eos: Sequence[int] = (),
    forced: Int[Tensor, "batch steps"] | None = None,
    on_step: Callable[[], object] | None = None,
) -> Decoded:
    """Decode with a KV cache, greedily or feeding ``forced`` tokens (-1 past a row's end).

    ``run`` performs one forward pass and returns the last position's logits. Rows stop at their
    first ``eos`` token (greedy only); the loop stops when every row has, or after ``max_new_tokens``.
    ``on_step`` is called after each decoded token (for progress bars).
    """
    n = batch.input_ids.shape[0]
    device = batch.input_ids.device
    stop = torch.tensor([] if forced is not None else list(eos), dtype=torch.long, device=device)
    step = prefill(batch, DynamicCache())
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    logprob = torch.zeros(n, dtype=torch.float32, device=device)
    generated: list[Tensor] = []
    for index in range(max_new_tokens):
        logits = run(step).float()
        if forced is not None:
            finished = forced[:, index] < 0
            token = forced[:, index].clamp_min(0)
        else:
            token = logits.argmax(-1)
        chosen = logits.log_softmax(-1).gather(-1, token[:, None]).squeeze(-1)
        logprob += torch.where(finished, torch.zeros_like(chosen), chosen)
        token = torch.where(finished, torch.full_like(token, pad), token)
        generated.append(token)
        finished |= torch.isin(token, stop)
        if on_step is not None:
            on_step()
        if index == max_new_tokens - 1 or bool(finished.all()):
            break
        step = step.next(token)
    tokens = torch.stack(generated, dim=1).tolist() if generated else [[] for _ in range(n)]
    return Decoded(tokens, logprob.cpu(), step.state)


def token_bar(prompts: int, batch_size: int, max_new_tokens: int, *, enabled: bool) -> tqdm:
    """A progress bar over the decoding steps of every batch, so it moves within one batch too."""
    steps = math.ceil(prompts / max(batch_size, 1)) * max_new_tokens
    return tqdm(total=steps, desc=f"generate {prompts} prompts", unit="tok", disable=not enabled)


def until_eos(row: list[int], eos: Sequence[int]) -> list[int]:
    """``row`` up to (not including) its first end-of-sequence token."""
    for i, token in enumerate(row):
        if token in eos:
            return row[:i]
    return row


def eos_ids(configured: int | list[int] | None, tokenizer_eos: int | None) -> list[int]:
    """Every end-of-sequence id: the generation config's (one or several) and the tokenizer's."""
    ids = list(configured) if isinstance(configured, list) else [configured]
    return sorted({int(i) for i in [*ids, tokenizer_eos] if i is not None})
