"""Racing: spend the confirm stage's seeds where they decide.

After each round (every candidate still in the race has the same seeds), a candidate is dropped when the 95%
interval of its paired difference to the leader lies wholly below zero: more seeds could not make it the winner.
Paired differences are used rather than comparing each network's own interval with the leader's, because seed k
moves both networks alike; the paired interval is the narrower, honest one. Protected entries (the references,
which the verdict needs) stay in the race. The leader is the best of the entries that can win (on budget): losing to
an off-budget reference, which no verdict can name the winner, says nothing of whether an entry could win.
"""
from __future__ import annotations

from scalesearch.verdict.statistics import estimate, paired_difference


def leader(samples: dict[str, dict[int, float]], can_win: frozenset[str] | None = None) -> str | None:
    """The entry with the highest mean over its seeds among those that ``can_win`` (all where None; ties: the first
    in order); None where none can."""
    eligible = [key for key in samples if can_win is None or key in can_win]
    return max(eligible, key=lambda key: estimate(samples[key].values()).mean) if eligible else None


def dropped(samples: dict[str, dict[int, float]], protected: frozenset[str] = frozenset(),
            can_win: frozenset[str] | None = None) -> set[str]:
    """Entries whose paired difference to the leader (the best that ``can_win``) is below zero with 95% confidence."""
    best = leader(samples, can_win)
    if best is None:
        return set()
    out = set()
    for key, seeds in samples.items():
        if key == best or key in protected:
            continue
        difference = paired_difference(seeds, samples[best])
        if difference is not None and difference.high < 0:
            out.add(key)
    return out
