"""A test aid: replays a run's whole decision path on a world with a known answer, and says whether the verdict got it.

The replay drives the real code a run uses (the Optuna study's proposals and duplicates, the references, the
explore stage, the confirm stage with racing, the verdict), one training after another and without Ray; only the
training is replaced, by ``World.accuracy`` (scalesearch/testing/worlds.py). Racing reads only complete rounds, so a
sequential replay decides as a parallel run would (study/confirm.py).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from scalesearch.foundation.status import ATTEMPTED
from scalesearch.model.scaling import ModelSpec
from scalesearch.model.spaces import SearchSpace
from scalesearch.foundation.spending import largest_share, spending_shares
from scalesearch.testing.worlds import World
from scalesearch.verdict.verdict import COMPOUND_WINS, NO_DIFFERENCE, SINGLE_WINS, Verdict, decide

RIGHT, WRONG, UNDECIDED = "right", "wrong", "undecided"
COMPOUND = "compound"  # the answer where the best network scales two dimensions or more


@dataclass(frozen=True)
class Replay:
    """What one replay decided, and how it stands against the world's truth."""

    world: World
    verdict: Verdict
    grade: str  # RIGHT | WRONG | UNDECIDED: the verdict's outcome against the world's answer
    trainings: int
    winner_leans: str | None  # the dimension of the winner's largest share of the budget (None: the base)
    versus_paper_claim: int  # +1 / -1 where the interval against the paper's point excludes 0 (+: winner better), else 0
    versus_paper_truth: float  # the winner's true accuracy minus the paper point's (0 without a paper point)
    versus_fast_compound_claim: int  # the same against dWr
    versus_fast_compound_truth: float

    @property
    def false_secondary_claims(self) -> int:
        """Claims against the paper's point or dWr whose sign the truth does not bear out."""
        return sum(1 for claim, truth in ((self.versus_paper_claim, self.versus_paper_truth),
                                          (self.versus_fast_compound_claim, self.versus_fast_compound_truth))
                   if claim and claim * truth <= 0)


def decision_path(base: SearchSpace, base_flops: int, settings, train: Callable[[ModelSpec, int, int | None], dict],
                  folder: Path | None = None) -> tuple[Verdict, pd.DataFrame]:
    """A run's whole decision path under ``settings`` (a SearchSettings, whose tie-break and looks the verdict
    takes), one training after another, each answered by ``train(spec, seed, epochs)`` (epochs: a rung's length
    under --fidelity halving, else None: the proxy's): a result as an objective returns it. The verdict and the run's
    table."""
    from scalesearch.study.proposal import Waiting
    from scalesearch.study.search_study import SearchStudy

    with tempfile.TemporaryDirectory(prefix="scalesearch-replay-") as scratch:
        where = Path(folder or scratch)
        where.mkdir(parents=True, exist_ok=True)
        study = SearchStudy(where, base, base_flops, settings)
        while (proposal := study.propose()) is not None:
            if isinstance(proposal, Waiting):  # nothing is in flight in a sequential replay
                raise RuntimeError(f"the study waits with nothing in flight: {proposal.reason}")
            study.complete(proposal.trial, train(ModelSpec.from_dict(proposal.spec), proposal.seed, proposal.epochs))
        table = study.table()
    verdict = decide(table, settings.tie_break, settings.looks)
    if verdict is None:
        raise RuntimeError("no network completed on budget in a replay")
    return verdict, table


def trainings_of(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a run's table that were trainings (a duplicate reuses one, an infeasible candidate has none), a
    first rung's screened ones included."""
    return table[table["status"].isin(ATTEMPTED)]


def replay(world: World, base: SearchSpace, base_flops: int, settings, folder: Path | None = None) -> Replay:
    """One run of the decision path under ``settings`` on ``world``."""
    verdict, table = decision_path(base, base_flops, settings,
                                   lambda spec, seed, epochs: _train(world, spec, seed, base), folder)
    trainings = len(trainings_of(table))
    winner = verdict.winner
    shares = spending_shares(winner.alpha, winner.beta, winner.gamma)
    paper, paper_truth = _claim(world, verdict, verdict.versus_paper)
    fast, fast_truth = _claim(world, verdict, verdict.versus_fast_compound)
    return Replay(world, verdict, grade(world, verdict), trainings,
                  None if shares is None else largest_share(shares), paper, paper_truth,
                  fast, fast_truth)


def _claim(world: World, verdict: Verdict, comparison) -> tuple[int, float]:
    """(+1 / -1 where the comparison's interval excludes 0, else 0; the true difference of the two networks)."""
    if comparison is None or comparison.network is None:
        return 0, 0.0
    winner, other = verdict.winner, comparison.network
    truth = world.truth(winner.alpha, winner.beta, winner.gamma) - world.truth(other.alpha, other.beta, other.gamma)
    difference = comparison.difference
    if difference is None or difference.n < 2 or not difference.excludes_zero():
        return 0, truth
    return (1 if difference.mean > 0 else -1), truth


def _train(world: World, spec: ModelSpec, seed: int, base: SearchSpace) -> dict:
    accuracy = world.accuracy(spec.architecture(), seed, spec.depth, spec.width, spec.resolution / base.resolution)
    return {"accuracy": accuracy, "loss": 1.0 - accuracy, "train_loss": 1.0, "epochs": 1, "train_seconds": 0.0,
            "latency_ms": latency_stand_in(spec, base), "device": "none"}


def latency_stand_in(spec: ModelSpec, base: SearchSpace) -> float:
    """The tie-break's figure in a replay: activations grow as depth x width x resolution² (Dollár et al. 2021), and
    so, on a CPU, does the time of a forward pass."""
    return spec.depth * spec.width * (spec.resolution / base.resolution) ** 2


def grade(world: World, verdict: Verdict) -> str:
    """The verdict against ``world``'s own answer (``graded``)."""
    if world.kind == "null" or world.delta == 0:
        answer = None
    elif world.kind in ("compound", "peak"):
        answer = COMPOUND
    else:
        answer = f"{world.kind}-only"
    return graded(verdict.outcome, verdict.dimension, answer)


def graded(outcome: str, dimension: str, answer: str | None) -> str:
    """RIGHT where the verdict's ``outcome`` (with its ``dimension``) is ``answer`` (``COMPOUND``, a single
    dimension's label such as "width-only", or None where there is no difference to find), WRONG where it claims
    something else, UNDECIDED for "no difference" where there is one."""
    if answer is None:
        return RIGHT if outcome == NO_DIFFERENCE else WRONG
    if outcome == NO_DIFFERENCE:
        return UNDECIDED
    if outcome == COMPOUND_WINS:
        return RIGHT if answer == COMPOUND else WRONG
    return RIGHT if outcome == SINGLE_WINS and dimension == answer else WRONG
