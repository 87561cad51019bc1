"""A test aid: search procedures replayed on a ground-truth table (scalesearch/testing/ground_truth.py), no training:
each training a procedure asks for is answered from the table, and what it picked is graded by the table's truth.

- ``ours``: a run's whole decision path under a SearchSettings (the study's proposals and duplicates, the references,
  the explore and confirm stages, racing, the verdict): the real code, through calibration.decision_path.
- ``nni``: NNI's EfficientNet procedure: its formula grid, each point trained once with one seed, no dedupe (a repeat
  is charged again: NNI would pay it), the best accuracy picked.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalesearch.testing.calibration import decision_path, latency_stand_in, trainings_of
from scalesearch.testing.ground_truth import GroundTruth


@dataclass(frozen=True)
class Picked:
    """What one replay of a procedure picked, and what it cost."""

    architecture: str
    compute: float  # Σ CPU seconds of its trainings, as the table recorded them
    trained: tuple[str, ...]  # the architecture of each training it asked for
    outcome: str = ""  # the verdict's (ours only)
    dimension: str = ""  # with "a single dimension wins", which (ours only)
    # The verdict's secondary comparisons (ours only): (the reference's label, Comparison.finding, its architecture)
    # against the paper's point and dWr, where the run trained them
    secondary: tuple[tuple[str, str, str], ...] = ()

    @property
    def trainings(self) -> int:
        return len(self.trained)


def seed_order(table_seeds: list[int], replay: int) -> list[int]:
    """Replay ``replay``'s permutation of the table's seeds: its run seed s is the table's seed order[s]."""
    return [int(seed) for seed in np.random.default_rng(replay).permutation(table_seeds)]


def first_among(order: list[int], seeds) -> list[int]:
    """``order`` with its first seed that is in ``seeds`` moved to the front (unchanged where none is): a replay's
    explore seed must be one the table has for every training it asks for with that seed (NNI's networks and the
    short rungs are trained for fewer seeds than the proxy's length), drawn as evenly from those as the order is."""
    seeds = set(seeds)
    first = next((seed for seed in order if seed in seeds), None)
    return order if first is None else [first] + [seed for seed in order if seed != first]


def replay_ours(truth: GroundTruth, base, base_flops: int, settings, order: list[int]) -> Picked:
    """A run under ``settings`` (its ``seed`` seeds its sampler; its training seeds are the replay's ``order``)."""
    train = truth.trainer(order, latency=lambda spec: latency_stand_in(spec, base), first_seed=settings.seed)
    verdict, table = decision_path(base, base_flops, settings, train)
    trained = trainings_of(table)
    secondary = tuple((comparison.against, comparison.finding, comparison.network.architecture)
                      for comparison in (verdict.versus_paper, verdict.versus_fast_compound)
                      if comparison is not None and comparison.network is not None)
    return Picked(verdict.winner.architecture, float(trained["train_seconds"].sum()), tuple(trained["architecture"]),
                  verdict.outcome, verdict.dimension, secondary)


def replay_nni(truth: GroundTruth, candidates: list, order: list[int]) -> Picked:
    """NNI's procedure over ``candidates`` (ground_truth.nni_grid), each trained with the replay's first seed that
    the table has for all of them: NNI's own networks are trained for fewer seeds than the search's, and a replay's
    order is a permutation of the search's, so its first such seed is drawn evenly from those NNI's grid has."""
    architectures = [candidate.spec.architecture() for candidate in candidates]
    train = truth.trainer(first_among(order, [seed for seed in order if truth.has(architectures, seed)]))
    results = [(train(candidate.spec, 0), architecture) for candidate, architecture in zip(candidates, architectures)]
    best = max(range(len(results)), key=lambda index: results[index][0]["accuracy"])  # the first of equals
    return Picked(results[best][1], float(sum(result["train_seconds"] for result, _ in results)),
                  tuple(architecture for _, architecture in results))
