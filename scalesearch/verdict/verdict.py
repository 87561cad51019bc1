"""The verdict: which network, how sure, and whether compound scaling paid, in one sentence.

From the results table alone. A network is one architecture at one resolution; its samples are the accuracies of
its completed trainings, one per seed. The winner is the on-budget network with the highest mean among those with
the most seeds; among the networks shown to be as good as it (the low end of the paired 95% interval of their
difference to it is above −``TIE_MARGIN``) the tie-break keeps the cheapest by its cost (``TIE_BREAKS``; a latency
timed alone counts as cheapest within ``LATENCY_BAND`` of the fastest) and picks the best mean among them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from scalesearch.foundation.references import FAST_COMPOUND, PAPER, SINGLE_DIMENSION
from scalesearch.foundation.status import TrialStage, TrialStatus
from scalesearch.foundation.spending import DIMENSIONS, largest_share, shares_phrase, spending_shares
from scalesearch.verdict.power import POWER, PairedNoise, minimum_detectable_difference, paired_noise
from scalesearch.verdict.sequential import Looks
from scalesearch.verdict.statistics import CLAIM_CONFIDENCE, Estimate, estimate, paired_difference

TIE_BREAKS = {"latency": "latency_ms", "activations": "activations", "params": "params", "none": None}
# What latency picks by when every tied network has it: timed alone after the search (cost/latency.py). A trial's own
# latency_ms, timed beside other trainings, is the fallback (a driver without the trials' GPU cannot time them).
LATENCY_ALONE = "latency_ms_alone"
# Latencies within 10% of the fastest are one speed, and the best mean among them wins: a tie-break is for runtimes
# that differ widely (Dollár et al. 2021), not for the few percent a timing repeats within. Why 10% and not 5%, as
# measured: docs/benchmarks.md §7.
LATENCY_BAND = 0.10
# A cheaper network takes the best's place only where the seeds show it at most this much worse (non-inferiority:
# the low end of the paired 95% interval above −TIE_MARGIN). Not "its interval contains 0": that is a failure to
# tell them apart, and on the default task's noisy proxy at 2–3 seeds it let the tie-break trade 0.16 of mean
# accuracy for speed (docs/design.md §4, benchmarks §13). Half an accuracy point: a difference a user would trade
# for speed.
TIE_MARGIN = 0.005
COMPOUND_WINS, SINGLE_WINS, NO_DIFFERENCE = "compound scaling wins", "a single dimension wins", "no difference beyond the noise"
# What one comparison found: the winner better or worse beyond the noise (the interval excludes 0), or neither.
BETTER, WORSE, WITHIN_NOISE, NO_INTERVAL = "better", "worse", "within the noise", "no interval"


@dataclass(frozen=True)
class Network:
    architecture: str
    label: str  # the reference's name, or "" for a searched candidate
    alpha: float
    beta: float
    gamma: float
    feasible: bool
    cost: dict  # by the table's column names (latency_ms, latency_ms_alone, activations, params, flops): medians
    seeds: dict  # seed → accuracy

    @property
    def accuracy(self) -> Estimate:
        return estimate(self.seeds.values())

    @property
    def name(self) -> str:
        coefficients = f"α={self.alpha:.3f} β={self.beta:.3f} γ={self.gamma:.3f}"
        return f"{self.label} ({coefficients})" if self.label else coefficients

    @property
    def spending(self) -> tuple[float, float, float] | None:
        """(depth, width, resolution) shares of the FLOPs growth by the formula (model/spending.py)."""
        return spending_shares(self.alpha, self.beta, self.gamma)

    @property
    def described(self) -> str:
        """The name, and for a network that scales more than one dimension where its growth goes: a compound that
        spends 97% on resolution is read differently from an even one."""
        shares = self.spending
        if shares is None or self.label in SINGLE_DIMENSION or sum(share > 0 for share in shares) < 2:
            return self.name
        coefficients = f"α={self.alpha:.3f} β={self.beta:.3f} γ={self.gamma:.3f}"
        growth = f"growth: {shares_phrase(shares)}"
        return f"{self.label} ({coefficients}; {growth})" if self.label else f"{coefficients} ({growth})"


def difference_phrase(difference: Estimate) -> str:
    """A paired difference as the verdict words it: ``+0.012 ± 0.030 (n=3)``, or its mean alone for one seed."""
    if difference.n < 2:
        return f"{difference.mean:+.3f} (n=1: no interval)"
    return f"{difference.mean:+.3f} ± {difference.half_width:.3f} (n={difference.n})"


@dataclass(frozen=True)
class Comparison:
    against: str
    difference: Estimate | None  # winner − against, on paired seeds
    network: Network | None = None  # what the winner is compared with

    @property
    def finding(self) -> str:
        """BETTER or WORSE where the winner differs beyond the noise (the interval excludes 0), else WITHIN_NOISE;
        NO_INTERVAL with fewer than two shared seeds."""
        d = self.difference
        if d is None or d.n < 2:
            return NO_INTERVAL
        return BETTER if d.low > 0 else WORSE if d.high < 0 else WITHIN_NOISE

    def phrase(self) -> str:
        if self.difference is None:
            return f"{self.against}: no shared seeds"
        words = {BETTER: ", better beyond the noise", WORSE: ", worse beyond the noise"}.get(self.finding, "")
        return f"{self.against} by {difference_phrase(self.difference)}{words}"

    def to_dict(self) -> dict:
        return {"against": self.against, "difference": self.difference.to_dict() if self.difference else None,
                "finding": self.finding}


@dataclass(frozen=True)
class Verdict:
    outcome: str  # COMPOUND_WINS | SINGLE_WINS | NO_DIFFERENCE
    winner: Network
    versus_single: Comparison | None
    versus_paper: Comparison | None
    tie_break: str
    tied: tuple[str, ...]  # the best mean and the networks shown within TIE_MARGIN of it (the winner among them)
    dimension: str = ""  # with SINGLE_WINS: which single-dimension scaling won
    rival: Network | None = None  # what versus_single compares with: the best single dimension, or the best compound
    tie_figure: str | None = None  # the column the tie-break compared (a Network.cost key), None when it did not pick
    versus_fast_compound: Comparison | None = None  # against dWr, the strongest rule that needs no search
    noise: PairedNoise | None = None  # the seed noise of a paired difference, from every network on shared seeds
    looks: Looks = Looks()  # where the run's seeds could stop on a finding (--seeds auto: verdict/sequential.py)
    confidence: float = CLAIM_CONFIDENCE  # every comparison's level: its look's share of 98% over all looks
    # With a compound winner: against every single-dimension reference (the rival is the best of them).
    versus_each_single: tuple[Comparison, ...] = ()

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        return tuple(c for c in (self.versus_single, self.versus_paper, self.versus_fast_compound) if c is not None)

    @property
    def detectable(self) -> dict | None:
        """The smallest difference the comparison with the rival would have found with 80% power, at its n and the
        run's paired noise (verdict/power.py); None without an estimate of the noise."""
        if self.noise is None:
            return None
        compared = self.versus_single.difference if self.versus_single and self.versus_single.difference else None
        n = compared.n if compared is not None else self.winner.accuracy.n
        value = minimum_detectable_difference(self.noise.sd, n, confidence=self.confidence)
        return {"value": value if math.isfinite(value) else None, "power": POWER, "n": n, "paired_sd": self.noise.sd,
                "degrees_of_freedom": self.noise.degrees_of_freedom, "confidence": self.confidence}

    @property
    def sentence(self) -> str:
        outcome = self.outcome
        if outcome == SINGLE_WINS:
            outcome = f"{SINGLE_WINS} ({self.dimension})"
        accuracy = self.winner.accuracy
        spread = f" ± {accuracy.half_width:.3f}" if accuracy.n > 1 else ""
        parts = [f"{outcome}: winner {self.winner.described}, accuracy {accuracy.mean:.3f}{spread} (n={accuracy.n})"]
        comparisons = [c.phrase() for c in self.comparisons]
        if comparisons:
            parts.append("against " + "; ".join(comparisons))
        detectable = self.detectable
        if self.outcome == NO_DIFFERENCE and detectable and detectable["value"] is not None:
            parts.append(f"a difference of {detectable['value']:.3f} or more would have been found with "
                         f"{POWER:.0%} power at n = {detectable['n']} (paired sd {detectable['paired_sd']:.3f}); "
                         "smaller ones cannot be told apart")
        if len(self.tied) > 1 and TIE_BREAKS.get(self.tie_break):
            how = " (timed alone after the search)" if self.tie_figure == LATENCY_ALONE else ""
            parts.append(f"picked by {self.tie_break}{how} among {len(self.tied)} networks shown within "
                         f"{TIE_MARGIN:g} of the best mean")
        return "; ".join(parts) + f" ({self.interval_words})"

    @property
    def interval_words(self) -> str:
        if self.looks.count == 1:
            return f"{self.confidence:.0%} t-intervals of paired seed differences"
        return (f"{self.confidence:.1%} t-intervals of paired seed differences: this look's share of "
                f"{self.looks.confidence:.0%} "
                f"over the run's {self.looks.count} looks at {', '.join(map(str, self.looks.points))} seeds "
                "(O'Brien–Fleming spending, Bonferroni)")

    def to_dict(self) -> dict:
        accuracy = self.winner.accuracy
        return {
            "outcome": self.outcome, "dimension": self.dimension or None, "sentence": self.sentence, "winner": {
                "architecture": self.winner.architecture, "reference": self.winner.label or None,
                "alpha": self.winner.alpha, "beta": self.winner.beta, "gamma": self.winner.gamma,
                "accuracy": accuracy.to_dict(), **_spending(self.winner)},
            "versus_single_dimension": self.versus_single.to_dict() if self.versus_single else None,
            "versus_each_single_dimension": [comparison.to_dict() for comparison in self.versus_each_single],
            "versus_paper": self.versus_paper.to_dict() if self.versus_paper else None,
            "versus_fast_compound": self.versus_fast_compound.to_dict() if self.versus_fast_compound else None,
            "minimum_detectable_difference": self.detectable,
            "tie_break": self.tie_break, "tie_figure": self.tie_figure, "tied": list(self.tied), "tie_margin": TIE_MARGIN,
            "interval": f"{self.confidence:.4g} Student-t interval over paired seeds (seed k: same data subset, order and "
                        "init for every network)",
            "confidence": self.confidence, "looks": self.looks.count, "look_seeds": list(self.looks.points),
        }


def _spending(network: Network) -> dict:
    """winner.json's ``growth_shares`` (depth, width, resolution: fractions of log FLOPs growth by the formula) and
    ``largest_share`` (the dimension that takes most; the issue's "a compound whose largest share is that dimension")."""
    shares = network.spending
    if shares is None:
        return {"growth_shares": None, "largest_share": None}
    return {"growth_shares": dict(zip(DIMENSIONS, shares)), "largest_share": largest_share(shares)}


def networks(table: pd.DataFrame) -> list[Network]:
    """Every network with at least one completed training, its accuracies by the seeds that judge it
    (``judging_rows``)."""
    rows = judging_rows(table[(table["status"] == TrialStatus.COMPLETE).fillna(False) & table["accuracy"].notna()])
    out = []
    for architecture, group in rows.groupby("architecture", sort=False):
        first = group.iloc[0]
        label = "" if pd.isna(first["reference"]) else str(first["reference"])
        columns = [column for column in TIE_BREAKS.values() if column] + ["flops", LATENCY_ALONE]
        cost = {column: _number(group[column].median()) if column in group else None for column in columns}
        seeds = {int(seed): float(accuracy) for seed, accuracy in zip(group["seed"].fillna(0), group["accuracy"])}
        out.append(Network(str(architecture), label, float(first["alpha"]), float(first["beta"]), float(first["gamma"]),
                           bool(group["feasible"].fillna(False).all()), cost, seeds))
    return out


def decide(table: pd.DataFrame, tie_break: str = "latency", looks: Looks = Looks()) -> Verdict | None:
    """The verdict, or None when no network completed on budget. ``looks``: where the run could have stopped on a
    finding (``--seeds auto``); every comparison is judged at the look's share of the claims' 98% at its seeds
    (verdict/sequential.py)."""
    everything = networks(table)
    on_budget = [network for network in everything if network.feasible]
    if not on_budget:
        return None
    # Contenders are the networks with the most seeds: after a confirm stage, those that survived its racing (an
    # explore-only network's one lucky seed does not outrank a mean over three). Best mean first; equal means go
    # to fewer FLOPs, then to the earlier network.
    most = max(network.accuracy.n for network in on_budget)
    contenders = [network for network in on_budget if network.accuracy.n == most]
    confidence = looks.confidence_at(most)
    best = max(contenders, key=lambda network: (network.accuracy.mean, -(network.cost.get("flops") or 0)))
    tied = [network for network in contenders if network is best or _tied(network, best)]
    winner = _pick(tied, tie_break) or best
    single = [network for network in everything if network.label in SINGLE_DIMENSION and network is not winner]
    paper = next((network for network in everything if network.label == PAPER and network is not winner), None)
    versus_single, outcome, dimension, rival, versus_each = None, NO_DIFFERENCE, "", None, ()
    if single_dimension(winner):
        # Compound: two dimensions or more scaled. On budget only: paper-literal costs about twice the budget, so its
        # accuracy is no rival at equal FLOPs.
        rivals = [network for network in on_budget if single_dimension(network) is None]
        if rivals:
            against = _differences(winner, rivals, confidence)
            rival = _best_paired(rivals, against)
            versus_single = Comparison(f"the best compound {rival.name}", against[rival.architecture], rival)
            if versus_single.difference is not None and versus_single.difference.low > 0:
                outcome, dimension = SINGLE_WINS, single_dimension(winner)
    elif single:
        # Compound wins where the winner beats the best single dimension (_best_paired). Every single dimension's
        # comparison is kept (winner.json).
        against = _differences(winner, single, confidence)
        rival = _best_paired(single, against)
        versus_each = tuple(Comparison(network.label, against[network.architecture], network) for network in single)
        versus_single = Comparison(rival.label, against[rival.architecture], rival)
        difference = versus_single.difference
        if difference is not None and difference.low > 0:
            outcome = COMPOUND_WINS
        elif difference is not None and difference.high < 0:
            outcome, dimension = SINGLE_WINS, rival.label
    versus_paper = Comparison(PAPER, paired_difference(winner.seeds, paper.seeds, confidence), paper) if paper else None
    fast = next((network for network in everything if network.label == FAST_COMPOUND and network is not winner), None)
    versus_fast = (Comparison(FAST_COMPOUND, paired_difference(winner.seeds, fast.seeds, confidence), fast)
                   if fast else None)
    return Verdict(outcome, winner, versus_single, versus_paper, tie_break, tuple(n.architecture for n in tied), dimension,
                   rival, tie_figure(tied, tie_break) if len(tied) > 1 else None, versus_fast,
                   paired_noise({network.architecture: network.seeds for network in everything}), looks, confidence,
                   versus_each)


def judging_rows(completed: pd.DataFrame) -> pd.DataFrame:
    """The trainings that judge a network: its confirm stage's where it has any, else its explore stage's.

    The explore seed chose the networks that the confirm stage trains again: of a dozen candidates the best few by
    that one seed, so its accuracies there are the luckiest draws. Judged on it again, a confirmed network carries
    that luck into every comparison (the winner's curse: on the resolution world it made "compound scaling wins" of
    a network truly a little worse, docs/design.md §4). The confirm stage's seeds were drawn after the choice. A
    reference's explore seed was not chosen on, but every comparison pairs it with a searched network on the same
    seeds, so it is left out alike. A network the confirm stage never trained keeps its one explore seed (the
    report's table and front): never a contender, which needs the most seeds."""
    if "stage" not in completed:
        return completed
    confirmed = completed["stage"].fillna("") == TrialStage.CONFIRM
    judged_again = set(completed.loc[confirmed, "architecture"])
    return completed[confirmed | ~completed["architecture"].isin(judged_again)]


def per_network_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per network: its coefficients and its accuracy over seeds (mean, sd, n, 95% interval)."""
    rows = []
    for network in networks(table):
        accuracy = network.accuracy
        rows.append({"architecture": network.architecture, "reference": network.label, "alpha": network.alpha,
                     "beta": network.beta, "gamma": network.gamma, "feasible": network.feasible,
                     "mean": accuracy.mean, "sd": accuracy.sd, "n": accuracy.n,
                     "low": accuracy.low if accuracy.n > 1 else math.nan,
                     "high": accuracy.high if accuracy.n > 1 else math.nan, **network.cost})
    return pd.DataFrame(rows)


def _differences(winner: Network, group: list[Network], confidence: float) -> dict[str, Estimate | None]:
    """Architecture → the winner's paired difference to each network of ``group`` (None: no shared seed)."""
    return {network.architecture: paired_difference(winner.seeds, network.seeds, confidence) for network in group}


def _best_paired(group: list[Network], against: dict[str, Estimate | None]) -> Network:
    """The rival from ``group``: the best mean among the networks that share at least two seeds with the winner
    (``against``: their paired differences; one lucky explore seed is no confirmed rival, and a comparison needs an
    interval); where none does, the one with the most seeds. Not the one with the most seeds first: on a world where
    depth alone paid, that named compound against width-only while depth-only, truly the best, went unchecked
    (docs/design.md §4)."""
    paired = [network for network in group if (difference := against[network.architecture]) and difference.n > 1]
    if paired:
        return max(paired, key=lambda network: network.accuracy.mean)
    return max(group, key=lambda network: (network.accuracy.n, network.accuracy.mean))


def single_dimension(network: Network) -> str | None:
    """"depth-only", "width-only" or "resolution-only" for a network that scales one dimension (a reference, or a
    searched network that happens to: α = 1.000 β = 1.350 γ = 1.000 is width-only in all but name); None otherwise."""
    if network.label in SINGLE_DIMENSION:
        return network.label
    scaled = [name for name, coefficient in (("depth", network.alpha), ("width", network.beta),
                                              ("resolution", network.gamma)) if coefficient > 1 + 1e-3]
    return f"{scaled[0]}-only" if len(scaled) == 1 else None


def _tied(network: Network, best: Network) -> bool:
    """Shown as good as the best for the tie-break: at most TIE_MARGIN worse at the paired interval's low end."""
    difference = paired_difference(network.seeds, best.seeds)
    return difference is not None and difference.n > 1 and difference.low >= -TIE_MARGIN


def tie_figure(tied: list[Network], tie_break: str) -> str | None:
    """The column the tie-break compares: for latency, the figure timed alone when every tied network has one."""
    if TIE_BREAKS.get(tie_break) is None:
        return None
    if tie_break == "latency" and tied and all(network.cost.get(LATENCY_ALONE) is not None for network in tied):
        return LATENCY_ALONE
    return TIE_BREAKS[tie_break]


def _pick(tied: list[Network], tie_break: str) -> Network | None:
    key = tie_figure(tied, tie_break)
    if key is None or len(tied) < 2:
        return None
    known = [network for network in tied if network.cost.get(key) is not None]
    if not known:
        return None
    cheapest = min(network.cost[key] for network in known)
    # The band is for the timed-alone figure only: the trials' own spread far wider, and a run recorded before
    # it was timed alone keeps the pick its winner.json names.
    band = cheapest * (1 + LATENCY_BAND) if key == LATENCY_ALONE else cheapest
    equal = [network for network in known if network.cost[key] <= band]
    return max(equal, key=lambda network: (network.accuracy.mean, -(network.cost.get("flops") or 0)))


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) or not math.isfinite(float(value)) else float(value)
