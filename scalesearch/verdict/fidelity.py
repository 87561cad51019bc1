"""Does the proxy predict a longer training? Kendall's τ between the proxy's ranking of the confirmed networks and
their ranking after N× the proxy's epochs (``scalesearch check``), kept in the run folder as check.json (runs/check_files.py).

τ-b (ties counted, as scipy computes it) over the networks both trainings completed. Below 0.6 the proxy's
order is a poor guide to the longer one: the winner may be an artefact of the short training. With few networks
τ moves in large steps (n = 4: multiples of 1/3), so the record keeps n and scipy's two-sided p-value beside it.
"""
from __future__ import annotations

import dataclasses
import json
import math

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import CHECK_FILE

THRESHOLD = 0.6  # below it the proxy does not predict the longer training (docs/benchmarks.md §3)
VERSION = 1


@dataclasses.dataclass(frozen=True)
class CheckedNetwork:
    architecture: str
    name: str  # the reference's name or the coefficients
    proxy_mean: float  # over the proxy's seeds
    proxy_n: int
    longer_mean: float | None  # over the check's seeds; None when none completed
    longer_n: int


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """check.json."""

    epochs_factor: int
    proxy_epochs: int
    longer_epochs: int
    seeds: list[int]
    networks: list[CheckedNetwork]
    tau: float | None  # None with fewer than 2 networks or no spread in either ranking
    p_value: float | None
    n: int  # networks with both rankings
    threshold: float = THRESHOLD
    status: str = "complete"  # complete | interrupted
    version: int = VERSION

    @property
    def warning(self) -> str | None:
        if self.tau is None:
            return f"Kendall τ could not be computed from {self.n} network(s): the check says nothing yet"
        if self.tau < self.threshold:
            return (f"the proxy does not predict a {self.epochs_factor}× longer training on these data (Kendall τ "
                    f"{self.tau:.2f} < {self.threshold:g}, n={self.n}): use more proxy epochs or images before "
                    "trusting the winner")
        return None

    @property
    def sentence(self) -> str:
        if self.tau is None:
            return self.warning
        return (f"Kendall τ = {self.tau:.2f} between the proxy's ranking ({self.proxy_epochs} epochs) and the ranking "
                f"after {self.longer_epochs} epochs of the same {self.n} networks (two-sided p = {self.p_value:.2f})")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, default=_plain)

    @classmethod
    def from_json(cls, text: str) -> "Fidelity":
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise InputError(f"{CHECK_FILE} has format version {data.get('version')!r}; this scalesearch reads {VERSION}")
        data["networks"] = [CheckedNetwork(**network) for network in data["networks"]]
        return cls(**data)


def rank_agreement(proxy: dict[str, float], longer: dict[str, float]) -> tuple[float | None, float | None, int]:
    """(τ-b, two-sided p-value, n) over the networks in both; τ None where it is undefined."""
    from scipy.stats import kendalltau

    shared = sorted(set(proxy) & set(longer))
    if len(shared) < 2:
        return None, None, len(shared)
    result = kendalltau([proxy[key] for key in shared], [longer[key] for key in shared])
    tau, p_value = float(result.statistic), float(result.pvalue)
    if not math.isfinite(tau):  # one of the rankings is all ties
        return None, None, len(shared)
    return tau, p_value, len(shared)


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON")
