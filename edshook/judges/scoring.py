"""Score (request, response) pairs against a rubric by the judge model's next-token probabilities.

One forward pass per pair, no sampling. The rubric's instructions are the same for every pair, so
their key-value cache is computed once and copied into each batch; each row then holds only its
own request, response and question, right-padded, and the language-model head runs at each row's
last real position only.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm
from transformers import DynamicCache

from edshook.errors import ChatTemplateError
from edshook.judges.rubric import Rubric, label_token_ids
from edshook.models.loader import LoadedModel

__all__ = ["DEFAULT_BUDGET", "RubricScorer", "TokenBudget"]

_MARK = "\x00rubric-item\x00"
_TRUNCATED = " [...]"


@dataclass(frozen=True)
class TokenBudget:
    """How many judge-model tokens of the request and of the response the judge reads.

    A longer request or response keeps its first tokens and is marked with ``" [...]"``: a refusal
    or a loop shows in the opening, and the answers judged here are usually cut off anyway.

    Examples:
        >>> TokenBudget(prompt=128, answer=256).answer
        256
    """

    prompt: int = 256
    answer: int = 384

    def __post_init__(self) -> None:
        if self.prompt < 1 or self.answer < 1:
            raise ValueError(f"token budgets must be positive, got prompt={self.prompt}, answer={self.answer}")


DEFAULT_BUDGET = TokenBudget()
"""256 tokens of the request and 384 of the response."""


class RubricScorer:
    """Probabilities over a rubric's labels for (request, response) pairs.

    Args:
        loaded: The judge model; its tokenizer must have a chat template.
        rubric: What to ask and which label words to score.
        budget: Tokens of each request and response the judge reads.
        reuse_prefix: Compute the instructions' key-value cache once (faster; same result).

    Examples:
        >>> from edshook.judges.rubric import HARM_RUBRIC
        >>> scorer = RubricScorer(load_model("qwen2.5-coder-1.5b-instruct"), HARM_RUBRIC)  # doctest: +SKIP
        >>> scorer(["How do I pick a lock?"], ["I can't help with that."], batch_size=1)  # doctest: +SKIP
        tensor([[0.0214, 0.9786]])
    """

    def __init__(
        self, loaded: LoadedModel, rubric: Rubric, *, budget: TokenBudget = DEFAULT_BUDGET, reuse_prefix: bool = True
    ) -> None:
        self.loaded = loaded
        self.rubric = rubric
        self.budget = budget
        self.reuse_prefix = reuse_prefix
        self._label_ids = label_token_ids(loaded.tokenizer, rubric.labels)
        head, tail = self._template_parts()
        self._prefix = self._encode(head + "\n\n[REQUEST]\n")
        self._between = self._encode("\n[/REQUEST]\n\n[RESPONSE]\n")
        self._closing = self._encode("\n[/RESPONSE]\n\n" + rubric.question + tail)
        self._truncated = self._encode(_TRUNCATED)
        self._prefix_cache: DynamicCache | None = None

    def __repr__(self) -> str:
        return f"RubricScorer(model={self.loaded.model_id!r}, labels={self.rubric.labels}, budget={self.budget})"

    def _template_parts(self) -> tuple[str, str]:
        """The chat text before and after the user's message, with the instructions in the message."""
        tokenizer = self.loaded.tokenizer
        if tokenizer.chat_template is None:
            raise ChatTemplateError(
                f"The judge model {self.loaded.model_id!r} has no chat template. "
                "Fix: judge with an instruct model, or set tokenizer.chat_template."
            )
        message = [{"role": "user", "content": self.rubric.instructions + _MARK}]
        text = tokenizer.apply_chat_template(message, add_generation_prompt=True, tokenize=False)
        head, _, tail = text.partition(_MARK)
        return head, tail

    def _encode(self, text: str, untrusted: bool = False) -> list[int]:
        """Token ids of ``text``; untrusted text cannot smuggle in special tokens such as ``<|im_end|>``."""
        return self.loaded.tokenizer(text, add_special_tokens=False, split_special_tokens=untrusted)["input_ids"]

    def _clipped(self, text: str, limit: int) -> list[int]:
        ids = self._encode(text, untrusted=True)
        return ids if len(ids) <= limit else ids[:limit] + self._truncated

    def item_ids(self, prompt: str, answer: str) -> list[int]:
        """The token ids of one pair after the instructions: request, response, question, chat tail."""
        return [
            *self._clipped(prompt, self.budget.prompt), *self._between,
            *self._clipped(answer, self.budget.answer), *self._closing,
        ]

    def text(self, prompt: str, answer: str) -> str:
        """The whole judge input for one pair, as the judge model reads it (for inspection).

        Examples:
            >>> print(scorer.text("Hi?", "Hello!"))  # doctest: +SKIP
        """
        return self.loaded.tokenizer.decode(self._prefix + self.item_ids(prompt, answer))

    def __call__(
        self, prompts: Sequence[str], answers: Sequence[str], *, batch_size: int = 8, progress: bool = False
    ) -> Float[Tensor, "item label"]:
        """Label probabilities, one row per pair, in the order given; each row sums to 1."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        rows = [self.item_ids(p, a) for p, a in zip(prompts, answers, strict=True)]
        probabilities = torch.zeros(len(rows), len(self.rubric.labels))
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
        with tqdm(total=len(rows), desc=f"judge ({'/'.join(self.rubric.labels)})", unit="answer",
                  disable=not progress) as bar:
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                probabilities[chosen] = self._score([rows[i] for i in chosen])
                bar.update(len(chosen))
        return probabilities

    @torch.inference_mode()
    def _score(self, rows: list[list[int]]) -> Float[Tensor, "batch label"]:
        lengths = torch.tensor([len(row) for row in rows])
        pad = self.loaded.tokenizer.pad_token_id or 0
        ids = torch.full((len(rows), int(lengths.max())), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        mask = torch.cat([torch.ones(len(rows), len(self._prefix), dtype=torch.long),
                          (torch.arange(ids.shape[1]) < lengths[:, None]).long()], dim=1)
        last = lengths - 1
        if self.reuse_prefix:
            cache = self._cache_for(len(rows))
        else:
            cache = None
            ids = torch.cat([torch.tensor([self._prefix]).expand(len(rows), -1), ids], dim=1)
            last = last + len(self._prefix)
        hidden = self._last_hidden(ids, mask, cache, last)
        return self._label_probabilities(hidden)

    def _cache_for(self, batch: int) -> DynamicCache:
        """A fresh copy of the instructions' key-value cache, repeated for ``batch`` rows."""
        if self._prefix_cache is None:
            device = self.loaded.model.device
            cache = DynamicCache(config=self.loaded.model.config)
            self.loaded.model.get_decoder()(
                input_ids=torch.tensor([self._prefix], device=device), past_key_values=cache, use_cache=True
            )
            self._prefix_cache = cache
        cache = copy.deepcopy(self._prefix_cache)
        cache.batch_repeat_interleave(batch)
        return cache

    def _last_hidden(
        self,
        ids: Int[Tensor, "batch pos"],
        mask: Int[Tensor, "batch prefix_and_pos"],
        cache: DynamicCache | None,
        last: Int[Tensor, " batch"],
    ) -> Float[Tensor, "batch d_model"]:
        """The decoder backbone's final hidden state at each row's last real position."""
        device = self.loaded.model.device
        out = self.loaded.model.get_decoder()(
            input_ids=ids.to(device), attention_mask=mask.to(device), past_key_values=cache, use_cache=cache is not None
        )
        return out.last_hidden_state[torch.arange(len(last), device=device), last.to(device)]

    def _label_probabilities(self, hidden: Float[Tensor, "batch d_model"]) -> Float[Tensor, "batch label"]:
        """The head at the last position only; each label's first tokens summed, renormalised over labels."""
        logits = self.loaded.model.get_output_embeddings()(hidden).float()
        softcap = getattr(self.loaded.model.config.get_text_config(), "final_logit_softcapping", None)
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        logprobs = torch.log_softmax(logits, dim=-1)
        per_label = torch.stack([torch.logsumexp(logprobs[:, list(ids)], dim=-1) for ids in self._label_ids], dim=-1)
        return torch.softmax(per_label, dim=-1).cpu()
