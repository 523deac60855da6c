"""Prompts with stable ids, and immutable named sets of them."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from edshook.errors import DataError

__all__ = ["Prompt", "PromptSet", "id_hash"]


def id_hash(seed: int, prompt_id: str) -> float:
    """Map a prompt id to a uniform number in [0, 1), fixed for a given seed.

    Splits and samples rank prompts by this value, so adding prompts never moves others.

    Examples:
        >>> 0.0 <= id_hash(0, "advbench:0001") < 1.0
        True
    """
    digest = hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Prompt:
    """One prompt and its ground truth.

    Attributes:
        id: Stable id, ``"<set>:<row or source id>"``; equal ids mean the same prompt.
        text: The prompt as the source publishes it, stripped of outer whitespace.
        harmful: True when the source marks it harmful (should be refused).
        source: Name of the set it was loaded from.
        category: The source's category label, if it has one.

    Examples:
        >>> Prompt("advbench:0000", "Say hi", harmful=True, source="advbench").id
        'advbench:0000'
    """

    id: str
    text: str
    harmful: bool
    source: str
    category: str | None = None


@dataclass(frozen=True)
class PromptSet:
    """An ordered, named, immutable collection of prompts with unique ids.

    Examples:
        >>> s = PromptSet("toy", (Prompt("toy:0", "Hi", False, "toy"),))
        >>> len(s), s.texts
        (1, ('Hi',))
    """

    name: str
    prompts: tuple[Prompt, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompts", tuple(self.prompts))
        repeated = [pid for pid, n in Counter(p.id for p in self.prompts).items() if n > 1]
        if repeated:
            raise DataError(f"prompt set {self.name!r} repeats ids: {repeated[:5]}")

    def __len__(self) -> int:
        return len(self.prompts)

    def __iter__(self) -> Iterator[Prompt]:
        return iter(self.prompts)

    @property
    def texts(self) -> tuple[str, ...]:
        """The prompt texts, in order."""
        return tuple(p.text for p in self.prompts)

    @property
    def ids(self) -> tuple[str, ...]:
        """The prompt ids, in order."""
        return tuple(p.id for p in self.prompts)

    @classmethod
    def concat(cls, name: str, sets: Sequence[PromptSet]) -> PromptSet:
        """One set holding the prompts of ``sets`` in order; a repeated id is an error.

        Examples:
            >>> PromptSet.concat("both", [PromptSet("a", ()), PromptSet("b", ())]).name
            'both'
        """
        return cls(name, tuple(prompt for s in sets for prompt in s))

    def head(self, n: int) -> PromptSet:
        """The first ``n`` prompts, for quick runs.

        Examples:
            >>> PromptSet("toy", ()).head(3).prompts
            ()
        """
        if n < 0:
            raise ValueError(f"head needs n >= 0, got {n}")
        return PromptSet(self.name, self.prompts[:n])

    def sample(self, n: int, seed: int = 0, *, stratify: bool = False) -> PromptSet:
        """``n`` prompts chosen by id hash, kept in set order; all of them if ``n >= len``.

        The choice depends only on the ids and the seed, not on the order or on other prompts.
        With ``stratify``, each source keeps its share of the set (largest remainders): use it for a
        part of the standard splits, where sources were split, and capped, by the same id hash, so
        the smallest hashes over-represent some of them.

        Examples:
            >>> PromptSet("toy", ()).sample(2, seed=1).prompts
            ()
        """
        if n < 0:
            raise ValueError(f"sample needs n >= 0, got {n}")
        if not stratify:
            chosen = set(sorted(self.ids, key=lambda pid: id_hash(seed, pid))[:n])
            return PromptSet(self.name, tuple(p for p in self.prompts if p.id in chosen))
        by_source: dict[str, list[str]] = {}
        for prompt in self.prompts:
            by_source.setdefault(prompt.source, []).append(prompt.id)
        total = len(self.prompts)
        exact = {source: min(n, total) * len(ids) / total for source, ids in by_source.items()} if total else {}
        counts = {source: int(share) for source, share in exact.items()}
        for source in sorted(exact, key=lambda s: (counts[s] - exact[s], s))[: min(n, total) - sum(counts.values())]:
            counts[source] += 1
        chosen = {
            pid
            for source, ids in by_source.items()
            for pid in sorted(ids, key=lambda i: id_hash(seed, i))[: counts[source]]
        }
        return PromptSet(self.name, tuple(p for p in self.prompts if p.id in chosen))
