"""Plain helpers shared by the test files (import them from here, never from another test file).

A module rather than conftest fixtures: TINY and BASE_FLOPS are constants, and make_study is a factory that
tests call several times with different settings (and again with resume=True on the same folder).
"""
from __future__ import annotations

from scalesearch.cost.measure import measure
from scalesearch.model.scaling import scale
from scalesearch.model.spaces import SearchSpace, Stage, Stem
from scalesearch.study.proposal import Waiting
from scalesearch.study.search_study import SearchSettings, SearchStudy

TINY = SearchSpace(
    name="tiny",
    stem=Stem(channels=8),
    stages=(Stage("mbconv", 3, 1, 1, 8, 1, 0.25), Stage("mbconv", 3, 2, 4, 16, 2, 0.25), Stage("mbconv", 3, 2, 4, 24, 2, 0.25)),
    head_channels=64,
    resolution=32,
)
BASE_FLOPS = measure(scale(TINY), 10).flops


def make_study(tmp_path, resume=False, **settings):
    """A Ray-free study over TINY at 2x (formula constraint, TPE, six trials, seed 0 unless overridden)."""
    options = dict(budget=2.0, sampler="tpe", trials=6, constraint="formula", seed=0)
    options.update(settings)
    return SearchStudy(tmp_path, TINY, BASE_FLOPS, SearchSettings(**options), resume=resume)


def run_to_end(study, train, stop_after: int | None = None) -> list:
    """Every proposal of ``study`` trained at once by ``train(proposal) -> result``, in order: a sequential run, which
    never waits. ``stop_after``: leave that many trainings done and the next one in flight, as a kill would."""
    proposals = []
    while (proposal := study.propose()) is not None:
        assert not isinstance(proposal, Waiting), proposal.reason
        proposals.append(proposal)
        if stop_after is not None and len(proposals) > stop_after:
            return proposals
        study.complete(proposal.trial, train(proposal))
    return proposals
