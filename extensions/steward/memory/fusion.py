"""Reciprocal rank fusion: merge ranked lists from different retrievers without comparing their
scores, which live on unrelated scales (cosine similarity, IDF sums).

Each list contributes weight / (K + rank) to every id it holds. A list's weight may vary per item
(`item_weights`), which is how a full-text hit that matched only a small part of the query counts
for less than one that matched all of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

K = 60


@dataclass
class Ranked:
    name: str
    ids: Sequence[str]
    weight: float = 1.0
    item_weights: dict[str, float] = field(default_factory=dict)


def fuse(lists: list[Ranked], k: int = K) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Fused scores per id, and which lists found each id."""
    scores: dict[str, float] = {}
    found_by: dict[str, list[str]] = {}
    for ranked in lists:
        for rank, item in enumerate(ranked.ids):
            weight = ranked.weight * ranked.item_weights.get(item, 1.0)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
            found_by.setdefault(item, []).append(ranked.name)
    return scores, found_by
