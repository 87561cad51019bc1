"""Racing: spend the confirm stage's seeds where they decide.

After each round (every candidate still in the race has the same seeds), a candidate is dropped when the 95%
interval of its paired difference to the leader lies wholly below zero: more seeds could not make it the winner.
Paired differences are used rather than comparing each network's own interval with the leader's, because seed k
moves both networks alike; the paired interval is the narrower, honest one. Protected entries (the references,
which the verdict needs) stay in the race.
"""
from __future__ import annotations

from scalesearch.verdict.statistics import estimate, paired_difference


def leader(samples: dict[str, dict[int, float]]) -> str:
    """The entry with the highest mean over its seeds (ties: the first in order)."""
    return max(samples, key=lambda key: estimate(samples[key].values()).mean)


def dropped(samples: dict[str, dict[int, float]], protected: frozenset[str] = frozenset()) -> set[str]:
    """Entries whose paired difference to the leader is below zero with 95% confidence."""
    if not samples:
        return set()
    best = leader(samples)
    out = set()
    for key, seeds in samples.items():
        if key == best or key in protected:
            continue
        difference = paired_difference(seeds, samples[best])
        if difference is not None and difference.high < 0:
            out.add(key)
    return out
