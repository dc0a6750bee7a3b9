"""Choosing the next pair in a wiki survey (pure).

Proposals with few comparisons are favoured (weight 1 / (1 + comparisons)), so a proposal added
during the consultation catches up quickly; pairs this respondent already judged are avoided while
others remain.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Set


def choose_pair(
    comparisons: Mapping[int, int],
    seen: Set[frozenset[int]],
    rng: random.Random,
    attempts: int = 50,
) -> tuple[int, int] | None:
    ids = sorted(comparisons)
    if len(ids) < 2:
        return None
    weights = [1.0 / (1 + comparisons[i]) for i in ids]
    fallback: tuple[int, int] | None = None
    for _ in range(attempts):
        first = rng.choices(ids, weights=weights)[0]
        second = first
        while second == first:
            second = rng.choices(ids, weights=weights)[0]
        pair = (first, second)
        if frozenset(pair) not in seen:
            return pair
        fallback = fallback or pair
    # Everything sampled was already judged: look for any unjudged pair before repeating one.
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if frozenset((a, b)) not in seen:
                return (a, b) if rng.random() < 0.5 else (b, a)
    return fallback
