"""A test aid: worlds with a known answer, for measuring the verdict's error rates without training.

A world says each network's true accuracy from how it spends the budget, and draws a training's accuracy as that
truth plus seed noise shaped like the proxy's: a part shared by every network for a seed (a seed picks the data
subset, the order and the initialisation: on the default proxy seed 1's subset was easier by 0.04 on average,
docs/benchmarks.md §3) and a part of the network's own. Pairing seeds removes the shared part; the own part is what
the verdict's paired intervals must see through. Its sd is the unit of an effect: ``delta`` is in sds of the paired
difference of two networks, sqrt(2) x ``own_sd``.

The mechanism, stated before any measurement (docs/design.md §4): a network spends log(FLOPs) on depth (log d),
width (2 log w) and resolution (2 log r); its *shares* are those three over their sum.
- ``null``: every network is as good as any other. The right verdict is "no difference beyond the noise".
- ``compound``: a network gains ``delta`` when no dimension takes more than half of the budget, and loses it
  linearly as one dimension takes it all (a single-dimension scaling gains nothing). The right verdict is
  "compound scaling wins".
- ``depth`` / ``width`` / ``resolution``: a network gains ``delta`` x its share of that dimension. The best network
  scales that dimension alone; a verdict must never name another dimension beyond the noise.
- ``peak``: one way of spending is best, and a network loses as the square of its shares' distance from it
  (diminishing returns in each dimension, the paper's own account, make accuracy concave in how the budget is
  split). The peak is drawn uniformly over all splits, as the search's own prior is, unless given; the nearest
  single-dimension scaling is ``delta`` below it. Unlike ``compound``, where every balanced network is as good, one
  region is best, usually far from every reference: it measures the search, not only the verdict. The right verdict
  is "compound scaling wins".
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from scalesearch.foundation.spending import DIMENSIONS, spending_shares

WORLDS = ("null", "compound", "peak", *DIMENSIONS)


@dataclass(frozen=True)
class World:
    kind: str  # one of WORLDS
    delta: float = 0.0  # the planted effect, in sds of a paired difference
    own_sd: float = 0.02  # a network's own seed noise (docs/benchmarks.md §7: paired sds 0.01-0.04 at n = 3)
    shared_sd: float = 0.02  # the seed's share, the same for every network
    base_accuracy: float = 0.5
    replay: int = 0  # which draw of the noise: replays differ only by it (and by the search's own seed)
    peak: tuple[float, float, float] | None = None  # ``peak``'s best shares; None: drawn from ``replay``

    def __post_init__(self):
        if self.kind not in WORLDS:
            raise ValueError(f"unknown world {self.kind!r}; use {', '.join(WORLDS)}")
        if self.kind == "peak" and self.peak is None:
            object.__setattr__(self, "peak", drawn_peak(self.replay))

    @property
    def effect(self) -> float:
        """The planted effect in accuracy: delta paired-difference sds."""
        return self.delta * math.sqrt(2) * self.own_sd

    def truth(self, depth: float, width: float, resolution_ratio: float) -> float:
        """The true (noise-free) accuracy of a network scaled by these multipliers from the proxy base."""
        shares = spending_shares(depth, width, resolution_ratio)
        if self.kind == "null" or shares is None:
            return self.base_accuracy
        if self.kind == "compound":
            return self.base_accuracy + self.effect * min(1.0, (1.0 - max(shares)) / 0.5)
        if self.kind == "peak":
            nearest_single = min(_distance_squared(corner, self.peak) for corner in _CORNERS)
            return self.base_accuracy + self.effect * (1.0 - _distance_squared(shares, self.peak) / nearest_single)
        return self.base_accuracy + self.effect * shares[DIMENSIONS.index(self.kind)]

    def accuracy(self, architecture: str, seed: int, depth: float, width: float, resolution_ratio: float) -> float:
        """One training's accuracy: the truth plus the seed's shared noise and the network's own, repeatable."""
        shared = _normal(f"{self.replay}:shared:{seed}") * self.shared_sd
        own = _normal(f"{self.replay}:own:{architecture}:{seed}") * self.own_sd
        return self.truth(depth, width, resolution_ratio) + shared + own


def drawn_peak(replay: int) -> tuple[float, float, float]:
    """``peak``'s best (depth, width, resolution) shares for ``replay``: uniform over the triangle of splits."""
    seed = int.from_bytes(hashlib.sha256(f"{replay}:peak".encode()).digest()[:8], "little")
    return tuple(float(share) for share in np.random.default_rng(seed).dirichlet((1.0, 1.0, 1.0)))


_CORNERS = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))  # depth-, width- and resolution-only


def _distance_squared(shares, other) -> float:
    return sum((a - b) ** 2 for a, b in zip(shares, other))


def _normal(key: str) -> float:
    """A standard normal draw fixed by ``key``: the same network and seed get the same noise in every call."""
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return float(np.random.default_rng(seed).standard_normal())
