"""Where a scaling spends its FLOPs growth: the shares of log(α·β²·γ²) that go to depth (log α), width (2 log β)
and resolution (2 log γ), by the paper's formula. A compound network that puts 97% of its growth into resolution is
a resolution scaling in all but name; the verdict says the shares so that a user can tell (docs/design.md §4)."""
from __future__ import annotations

import math

DIMENSIONS = ("depth", "width", "resolution")


def spending_shares(depth: float, width: float, resolution_ratio: float) -> tuple[float, float, float] | None:
    """(depth, width, resolution) shares of log(FLOPs) spent, each ≥ 0 (a shrinking dimension spends nothing);
    None for the unscaled base."""
    spent = (max(0.0, math.log(depth)), max(0.0, 2 * math.log(width)), max(0.0, 2 * math.log(resolution_ratio)))
    total = sum(spent)
    if total < 1e-9:
        return None
    return tuple(part / total for part in spent)


def largest_share(shares: tuple[float, float, float]) -> str:
    return DIMENSIONS[max(range(3), key=lambda index: shares[index])]


def shares_phrase(shares: tuple[float, float, float]) -> str:
    """``97% resolution, 3% width``: the dimensions that spend anything, largest first, in whole percent."""
    spent = sorted(((share, name) for share, name in zip(shares, DIMENSIONS) if round(share * 100) > 0), reverse=True)
    return ", ".join(f"{share:.0%} {name}" for share, name in spent)
