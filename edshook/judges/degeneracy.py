"""Measures of degenerate answers: repetition loops, low diversity, echoes of the prompt, and two
read off a judge model (word salad, answers to another question), with the rule that combines them.

Every model-free measure works on *words*: the casefolded runs of letters and digits of the answer, so
punctuation and whitespace are ignored. Words need no tokenizer, so the numbers are the same
whichever model wrote or judges the answer; the price is that text without spaces (Chinese) counts
as few long words, and an answer of pure punctuation has no words at all.

Examples:
    >>> loop = measure_degeneracy("the cat sat on the mat " * 8)
    >>> loop.repeated_ngrams > 0.8, loop.distinct_2 < 0.2
    (True, True)
    >>> measure_degeneracy("Paris is the capital of France.").repeated_ngrams
    0.0
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor

__all__ = [
    "Degeneracy",
    "DegeneracyRule",
    "distinct_n",
    "echo_score",
    "likelihood_measures",
    "measure_degeneracy",
    "repeated_ngram_fraction",
    "words",
]

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The casefolded runs of letters and digits of ``text``.

    Examples:
        >>> words("Hello,  WORLD! It's 2 o'clock")
        ['hello', 'world', 'it', 's', '2', 'o', 'clock']
    """
    return _WORD.findall(text.casefold())


def _ngrams(items: Sequence[str], n: int) -> list[tuple[str, ...]]:
    if n < 1:
        raise ValueError(f"n-gram order must be at least 1, got {n}")
    return [tuple(items[i : i + n]) for i in range(len(items) - n + 1)]


def repeated_ngram_fraction(text: str, n: int = 4) -> float:
    """The share of the text's word n-grams that repeat an n-gram seen earlier in it.

    0 when every n-gram is new (or the text has fewer than ``n`` words); close to 1 for a loop.

    Examples:
        >>> repeated_ngram_fraction("a b c d a b c d")
        0.2
        >>> repeated_ngram_fraction("one two three")
        0.0
    """
    grams = _ngrams(words(text), n)
    if not grams:
        return 0.0
    return (len(grams) - len(set(grams))) / len(grams)


def distinct_n(text: str, n: int = 2) -> float:
    """Distinct-n: distinct word n-grams over all word n-grams (1 when the text has none).

    Examples:
        >>> distinct_n("a b a b")  # bigrams: (a b), (b a), (a b)
        0.6666666666666666
    """
    grams = _ngrams(words(text), n)
    if not grams:
        return 1.0
    return len(set(grams)) / len(grams)


def echo_score(answer: str, prompt: str, n: int = 3) -> float:
    """The share of the answer's words that lie in a word n-gram copied from the prompt.

    1 for an exact copy of the prompt or for the prompt repeated, near 0 for an answer in its own
    words; an answer that restates the question and then answers it scores the restated share.
    Answers shorter than ``n`` words are compared by their whole word sequence; an empty answer
    scores 0.

    Examples:
        >>> echo_score("How do I bake bread? How do I bake bread?", "how do I bake bread?")
        1.0
        >>> echo_score("Mix flour and water.", "How do I bake bread?")
        0.0
    """
    answer_words, prompt_words = words(answer), words(prompt)
    if not answer_words:
        return 0.0
    order = min(n, len(answer_words))
    in_prompt = set(_ngrams(prompt_words, order))
    covered = [False] * len(answer_words)
    for start, gram in enumerate(_ngrams(answer_words, order)):
        if gram in in_prompt:
            covered[start : start + order] = [True] * order
    return sum(covered) / len(covered)


@dataclass(frozen=True)
class Degeneracy:
    """Measures of one answer: model-free ones, and two read off a judge model when one is used.

    Attributes:
        repeated_ngrams: Share of word 4-grams repeating an earlier one (loops score high).
        distinct_2: Distinct word bigrams over all bigrams (loops score low).
        echo: Share of the answer's words inside a word trigram copied from the prompt (``None``
            without a prompt).
        n_words: Number of words.
        logprob: Mean log-probability per token (nats) of the answer given the request, under the
            judge model; word salad scores far below fluent text (``None`` when not measured).
        relevance: How much the request raises the log-probability of the answer's first tokens,
            in nats per token; an answer to some other question gains nothing (``None`` when not
            measured).
    """

    repeated_ngrams: float
    distinct_2: float
    echo: float | None
    n_words: int
    logprob: float | None = None
    relevance: float | None = None

    def to_json(self) -> dict[str, float | int | None]:
        """Rounded values for reports.

        Examples:
            >>> measure_degeneracy("yes yes", "yes?").to_json()
            {'repeated_ngrams': 0.0, 'distinct_2': 1.0, 'echo': 0.0, 'n_words': 2, 'logprob': None, 'relevance': None}
        """

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "repeated_ngrams": rounded(self.repeated_ngrams),
            "distinct_2": rounded(self.distinct_2),
            "echo": rounded(self.echo),
            "n_words": self.n_words,
            "logprob": rounded(self.logprob),
            "relevance": rounded(self.relevance),
        }


def measure_degeneracy(
    answer: str, prompt: str | None = None, *, logprob: float | None = None, relevance: float | None = None
) -> Degeneracy:
    """Every measure of :class:`Degeneracy` for one answer (``echo`` only when a prompt is given).

    ``logprob`` and ``relevance`` come from a judge model (see :class:`edshook.judges.ModelJudge`)
    and are passed through.

    Examples:
        >>> measure_degeneracy("Sure. Tell me a joke. Tell me a joke.", "Tell me a joke.").echo
        0.8888888888888888
    """
    return Degeneracy(
        repeated_ngrams=repeated_ngram_fraction(answer, 4),
        distinct_2=distinct_n(answer, 2),
        echo=None if prompt is None else echo_score(answer, prompt),
        n_words=len(words(answer)),
        logprob=logprob,
        relevance=relevance,
    )


def likelihood_measures(
    given_request: Float[Tensor, " token"], alone: Float[Tensor, " token"]
) -> tuple[float | None, float | None]:
    """``logprob`` and ``relevance`` of :class:`Degeneracy` from an answer's token log-probabilities.

    Args:
        given_request: Log-probability of each answer token after the request.
        alone: Log-probability of the answer's first tokens after an empty request.

    Returns:
        The mean of ``given_request``, and the mean gain of the first ``len(alone)`` tokens; each
        ``None`` for an empty answer.

    Examples:
        >>> import torch
        >>> likelihood_measures(torch.tensor([-1.0, -2.0, -3.0]), torch.tensor([-4.0, -4.0]))
        (-2.0, 2.5)
    """
    if given_request.numel() == 0:
        return None, None
    first = min(len(alone), len(given_request))
    relevance = float((given_request[:first] - alone[:first]).mean()) if first else None
    return float(given_request.mean()), relevance


@dataclass(frozen=True)
class DegeneracyRule:
    """When the measures call an answer degenerate, whatever a model judge's label says.

    An answer is degenerate when it has no words at all, or when it has at least ``min_words``
    words and any of these holds:

    - a loop: more than ``max_repeated_ngrams`` of its word 4-grams repeat an earlier one;
    - an echo: more than ``max_echo`` of its words are copied from the prompt (:func:`echo_score`);
    - word salad: its mean token log-probability under the judge model is below ``min_logprob``;
    - off topic: the request raises the log-probability of its first tokens by less than
      ``min_relevance`` nats per token, and the model's own label is not ``refusal`` (a generic
      refusal fits any request, so it gains little from the request either).

    The last two apply only when the judge model measured them. Shorter answers are left to the
    model: a three-word refusal repeats nothing and may well quote the prompt.

    Examples:
        >>> rule = DegeneracyRule()
        >>> rule(measure_degeneracy("I like it. " * 10))
        True
        >>> rule(measure_degeneracy("Bread needs flour, water, salt and yeast; knead, rest, bake."))
        False
    """

    max_repeated_ngrams: float = 0.4
    max_echo: float = 0.9
    min_logprob: float = -4.0
    min_relevance: float = 0.2
    min_words: int = 8

    def __call__(self, measures: Degeneracy, label: str | None = None) -> bool:
        """True when the measures show an empty answer, a loop, an echo, word salad or an off-topic answer.

        ``label`` is the model's own most probable label, if there is a model.
        """
        return self.reason(measures, label) is not None

    def reason(self, measures: Degeneracy, label: str | None = None) -> str | None:
        """Which condition fires first (``"empty"``, ``"loop"``, ``"echo"``, ``"word_salad"``, ``"off_topic"``), if any.

        Examples:
            >>> DegeneracyRule().reason(measure_degeneracy(""))
            'empty'
        """
        if measures.n_words == 0:
            return "empty"
        if measures.n_words < self.min_words:
            return None
        checks = (
            ("loop", measures.repeated_ngrams > self.max_repeated_ngrams),
            ("echo", measures.echo is not None and measures.echo > self.max_echo),
            ("word_salad", measures.logprob is not None and measures.logprob < self.min_logprob),
            (
                "off_topic",
                label != "refusal" and measures.relevance is not None and measures.relevance < self.min_relevance,
            ),
        )
        return next((name for name, fired in checks if fired), None)

    def to_json(self) -> dict[str, float | int]:
        """The thresholds, for reports."""
        return {
            "max_repeated_ngrams": self.max_repeated_ngrams,
            "max_echo": self.max_echo,
            "min_logprob": self.min_logprob,
            "min_relevance": self.min_relevance,
            "min_words": self.min_words,
        }
