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
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformers import DynamicCache

from edshook.errors import ChatTemplateError
from edshook.judges.rubric import BETWEEN, REQUEST_OPEN, RESPONSE_CLOSE, Rubric, label_token_ids
from edshook.models.loader import LoadedModel

__all__ = ["DEFAULT_BUDGET", "RubricScorer", "RubricScores", "TokenBudget"]

_MARK = "\x00rubric-item\x00"
_TRUNCATED = " [...]"
_HEAD_CHUNK = 128


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


@dataclass(frozen=True)
class RubricScores:
    """What one scoring pass returns.

    Attributes:
        probabilities: One row per pair over the rubric's labels, each row summing to 1.
        answer_logprobs: Per pair, the log-probability of each answer token given the rubric, the
            request and the answer so far (within the token budget); ``None`` unless asked for.
    """

    probabilities: Float[Tensor, "item label"]
    answer_logprobs: tuple[Float[Tensor, " token"], ...] | None = None


@dataclass(frozen=True)
class _Row:
    """The token ids of one pair after the instructions, and where its answer tokens lie."""

    ids: list[int]
    answer_start: int
    answer_end: int


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
        >>> scorer(["How do I pick a lock?"], ["I can't help with that."]).probabilities  # doctest: +SKIP
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
        self._decoder: torch.nn.Module = loaded.model.get_decoder()  # type: ignore[no-untyped-call]
        self._head: torch.nn.Module = loaded.model.get_output_embeddings()  # type: ignore[no-untyped-call]
        head, tail = self._template_parts()
        self._prefix = self._encode(head + REQUEST_OPEN)
        self._between = self._encode(BETWEEN)
        self._closing = self._encode(RESPONSE_CLOSE + rubric.question + tail)
        self._truncated = self._encode(_TRUNCATED)
        self._prefix_cache: DynamicCache | None = None

    def __repr__(self) -> str:
        return f"RubricScorer(model={self.loaded.model_id!r}, labels={self.rubric.labels}, budget={self.budget})"

    def _template_parts(self) -> tuple[str, str]:
        """The chat text before and after the item: instructions and worked examples, then the chat tail."""
        tokenizer = self.loaded.tokenizer
        if tokenizer.chat_template is None:
            raise ChatTemplateError(
                f"The judge model {self.loaded.model_id!r} has no chat template. "
                "Fix: judge with an instruct model, or set tokenizer.chat_template."
            )
        opening = self.rubric.instructions + "\n\n"
        messages = []
        for example in self.rubric.examples:
            block = self.rubric.block(example.request, example.response)
            messages += [{"role": "user", "content": opening + block}, {"role": "assistant", "content": example.label}]
            opening = ""
        messages.append({"role": "user", "content": opening + _MARK})
        text = str(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        head, _, tail = text.partition(_MARK)
        return head, tail

    def _encode(self, text: str, untrusted: bool = False) -> list[int]:
        """Token ids of ``text``; untrusted text cannot smuggle in special tokens such as ``<|im_end|>``."""
        ids = self.loaded.tokenizer(text, add_special_tokens=False, split_special_tokens=untrusted)["input_ids"]
        return [int(token) for token in ids]

    def _clipped(self, text: str, limit: int) -> tuple[list[int], int]:
        """The first ``limit`` tokens of ``text`` (marked when cut), and how many of them are the text's."""
        ids = self._encode(text, untrusted=True)
        return (ids, len(ids)) if len(ids) <= limit else (ids[:limit] + self._truncated, limit)

    def _row(self, prompt: str, answer: str, *, closing: bool = True, answer_limit: int | None = None) -> _Row:
        request, _ = self._clipped(prompt, self.budget.prompt)
        response, kept = self._clipped(answer, answer_limit or self.budget.answer)
        start = len(request) + len(self._between)
        ids = [*request, *self._between, *response, *(self._closing if closing else ())]
        return _Row(ids, start, start + kept)

    def item_ids(self, prompt: str, answer: str) -> list[int]:
        """The token ids of one pair after the instructions: request, response, question, chat tail."""
        return self._row(prompt, answer).ids

    def text(self, prompt: str, answer: str) -> str:
        """The whole judge input for one pair, as the judge model reads it (for inspection).

        Examples:
            >>> print(scorer.text("Hi?", "Hello!"))  # doctest: +SKIP
        """
        return str(self.loaded.tokenizer.decode(self._prefix + self.item_ids(prompt, answer)))

    def __call__(
        self,
        prompts: Sequence[str],
        answers: Sequence[str],
        *,
        batch_size: int = 8,
        progress: bool = False,
        answer_logprobs: bool = False,
    ) -> RubricScores:
        """Label probabilities for each pair, in the order given, and optionally its answer's token log-probabilities.

        Examples:
            >>> scorer(["Hi?"], ["Hello!"], answer_logprobs=True).answer_logprobs[0].shape  # doctest: +SKIP
            torch.Size([2])
        """
        rows = [self._row(p, a) for p, a in zip(prompts, answers, strict=True)]
        desc = f"judge ({'/'.join(self.rubric.labels)})"
        probabilities, logprobs = self._run(rows, batch_size, progress, desc, labels=True, answers=answer_logprobs)
        return RubricScores(probabilities, logprobs if answer_logprobs else None)

    def answer_logprobs_alone(
        self, answers: Sequence[str], *, first: int = 32, batch_size: int = 8, progress: bool = False
    ) -> tuple[Float[Tensor, " token"], ...]:
        """Token log-probabilities of each answer's first ``first`` tokens after an empty request.

        Compared with the same tokens after the real request, they show how much the request
        explains the answer: little for an answer to some other question.
        """
        rows = [self._row("", a, closing=False, answer_limit=first) for a in answers]
        _, logprobs = self._run(rows, batch_size, progress, "judge (answers alone)", labels=False, answers=True)
        return logprobs

    def _run(
        self, rows: list[_Row], batch_size: int, progress: bool, desc: str, *, labels: bool, answers: bool
    ) -> tuple[Float[Tensor, "item label"], tuple[Float[Tensor, " token"], ...]]:
        """Batches sorted by length (less padding); results back in the order of ``rows``.

        Label probabilities are read only with ``labels`` (zeros otherwise), answer token
        log-probabilities only with ``answers`` (empty otherwise).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        probabilities = torch.zeros(len(rows), len(self.rubric.labels))
        logprobs: list[Tensor] = [torch.zeros(0)] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i].ids))
        with tqdm(total=len(rows), desc=desc, unit="answer", disable=not progress) as bar:
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                batch = [rows[i] for i in chosen]
                hidden, offset = self._hidden(batch)
                if labels:
                    last = torch.tensor([len(row.ids) - 1 + offset for row in batch])
                    probabilities[chosen] = self._label_probabilities(hidden[torch.arange(len(batch)), last])
                if answers:
                    for i, row, states in zip(chosen, batch, hidden, strict=True):
                        logprobs[i] = self._token_logprobs(states, row, offset)
                bar.update(len(chosen))
        return probabilities, tuple(logprobs)

    @torch.inference_mode()
    def _hidden(self, rows: list[_Row]) -> tuple[Float[Tensor, "batch pos d_model"], int]:
        """The backbone's final hidden states of right-padded rows, and where the rows start in them."""
        lengths = torch.tensor([len(row.ids) for row in rows])
        pad = self.loaded.tokenizer.pad_token_id or 0
        ids = torch.full((len(rows), int(lengths.max())), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row.ids)] = torch.tensor(row.ids)
        mask = torch.cat(
            [
                torch.ones(len(rows), len(self._prefix), dtype=torch.long),
                (torch.arange(ids.shape[1]) < lengths[:, None]).long(),
            ],
            dim=1,
        )
        cache, offset = (self._cache_for(len(rows)), 0) if self.reuse_prefix else (None, len(self._prefix))
        if cache is None:
            ids = torch.cat([torch.tensor([self._prefix]).expand(len(rows), -1), ids], dim=1)
        device = self.loaded.model.device
        out = self._decoder(
            input_ids=ids.to(device), attention_mask=mask.to(device), past_key_values=cache, use_cache=cache is not None
        )
        hidden: Tensor = out.last_hidden_state
        return hidden, offset

    def _cache_for(self, batch: int) -> DynamicCache:
        """A fresh copy of the instructions' key-value cache, repeated for ``batch`` rows."""
        if self._prefix_cache is None:
            device = self.loaded.model.device
            cache = DynamicCache(config=self.loaded.model.config)
            self._decoder(input_ids=torch.tensor([self._prefix], device=device), past_key_values=cache, use_cache=True)
            self._prefix_cache = cache
        cache = copy.deepcopy(self._prefix_cache)
        cache.batch_repeat_interleave(batch)
        return cache

    def _log_softmax(self, hidden: Float[Tensor, "n d_model"]) -> Float[Tensor, "n vocab"]:
        """The language-model head on a few positions only, in float32."""
        logits = self._head(hidden).float()
        softcap = getattr(self.loaded.model.config.get_text_config(), "final_logit_softcapping", None)
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        return torch.log_softmax(logits, dim=-1)

    @torch.inference_mode()
    def _label_probabilities(self, hidden: Float[Tensor, "batch d_model"]) -> Float[Tensor, "batch label"]:
        """Each label's first tokens summed, then renormalised over the labels."""
        logprobs = self._log_softmax(hidden)
        per_label = torch.stack([torch.logsumexp(logprobs[:, list(ids)], dim=-1) for ids in self._label_ids], dim=-1)
        return torch.softmax(per_label, dim=-1).cpu()

    @torch.inference_mode()
    def _token_logprobs(self, states: Float[Tensor, "pos d_model"], row: _Row, offset: int) -> Float[Tensor, " token"]:
        """Log-probability of each answer token given what precedes it, in chunks to bound memory."""
        targets = torch.tensor(row.ids[row.answer_start : row.answer_end], dtype=torch.long, device=states.device)
        before = states[offset + row.answer_start - 1 : offset + row.answer_end - 1]
        pieces = [
            self._log_softmax(before[i : i + _HEAD_CHUNK]).gather(1, targets[i : i + _HEAD_CHUNK, None])[:, 0]
            for i in range(0, len(targets), _HEAD_CHUNK)
        ]
        return torch.cat(pieces).cpu() if pieces else torch.zeros(0)
