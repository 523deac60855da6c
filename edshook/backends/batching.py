"""Prompts to token ids: the chat template, the context limit, and left-padded batches of similar length."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from edshook.errors import ChatTemplateError, PromptError

__all__ = ["Batch", "PromptEncoder", "check_prompts"]


@dataclass(frozen=True)
class Batch:
    """Prompts as token ids, left-padded so that position -1 is every prompt's last token.

    Attributes:
        input_ids: Token ids, ``pad`` on the left of shorter prompts.
        attention_mask: 1 on real tokens, 0 on padding.
        prompts: For each row, the index of its prompt in the list the caller passed.
    """

    input_ids: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    prompts: tuple[int, ...] = ()

    @property
    def position_ids(self) -> Int[Tensor, "batch pos"]:
        return (self.attention_mask.cumsum(-1) - 1).clamp(min=0)


def check_prompts(prompts: Sequence[str]) -> Sequence[str]:
    """``prompts`` itself, once it is known to be a non-empty list of prompts (not one string)."""
    if isinstance(prompts, str):
        raise PromptError("Pass a list of prompts, not a single string: backend.generate([prompt]).")
    if len(prompts) == 0:
        raise PromptError("The prompt list is empty: pass at least one prompt.")
    return prompts


class PromptEncoder:
    """Formats prompts the way the model expects them and packs them into batches.

    Args:
        tokenizer: The model's tokenizer.
        chat: Apply the tokenizer's chat template (an error if it has none); ``False`` feeds raw text.
        context: The model's context length (None: unchecked).
        pad: The token id used for left padding.
        model_id: Named in errors.
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, *, chat: bool, context: int | None, pad: int, model_id: str
    ) -> None:
        self.tokenizer, self.chat, self.context, self.pad, self.model_id = tokenizer, chat, context, pad, model_id

    def format(self, prompt: str, system_prompt: str | None = None) -> list[int]:
        """Token ids of one prompt as the model sees it: chat template and generation prompt included."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError(f"Prompts must be non-empty strings, got {prompt!r}.")
        if not self.chat:
            text = prompt if system_prompt is None else f"{system_prompt}\n\n{prompt}"
            return self._fits(self.tokenizer(text, add_special_tokens=True)["input_ids"])
        if self.tokenizer.chat_template is None:
            raise ChatTemplateError(
                f"Model {self.model_id!r} has no chat template. Fix: create the backend with chat=False "
                "to feed prompts as plain text, or set tokenizer.chat_template."
            )
        messages = [{"role": "user", "content": prompt}]
        if system_prompt is not None:
            messages.insert(0, {"role": "system", "content": system_prompt})
        text = str(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        return self._fits(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _fits(self, ids: list[int]) -> list[int]:
        """Refuse prompts longer than the model's context instead of running past it."""
        if self.context is not None and len(ids) >= self.context:
            raise PromptError(
                f"A prompt is {len(ids)} tokens long; the model's context is {self.context} tokens. "
                "Fix: shorten or drop it."
            )
        return ids

    def pack(self, rows: Sequence[list[int]], device: torch.device, prompts: tuple[int, ...] = ()) -> Batch:
        """Left-pad token rows into one batch on ``device``."""
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
        return Batch(ids.to(device), mask.to(device), prompts)

    def encode(self, prompts: Sequence[str], device: torch.device, system_prompt: str | None = None) -> Batch:
        """Format and left-pad a list of prompts into one batch, in the order given."""
        rows = [self.format(prompt, system_prompt) for prompt in check_prompts(prompts)]
        return self.pack(rows, device, tuple(range(len(rows))))

    def batches(
        self,
        prompts: Sequence[str],
        batch_size: int,
        device: torch.device,
        *,
        system_prompt: str | None = None,
        progress: bool = False,
        what: str = "batches",
    ) -> Iterator[Batch]:
        """Batches of similar length (less padding); each knows the caller's index of its prompts."""
        prompts = check_prompts(prompts)
        if batch_size < 1:
            raise PromptError(f"batch_size must be at least 1, got {batch_size}.")
        rows = [self.format(prompt, system_prompt) for prompt in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (len(rows[i]), i))
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for chunk in tqdm(chunks, desc=what, unit="batch", disable=not progress or len(chunks) < 2):
            yield self.pack([rows[i] for i in chunk], device, tuple(chunk))
