"""--fidelity halving (issue 20 §3): the rungs as pure functions of the table, and a real study that screens every
candidate at the shortest rung, promotes the best to the proxy's length, confirms at full length, and resumes in
every rung. The trainings are the analytic stand-in's, run by hand as the Ray runner would run them."""
from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from scalesearch.foundation.status import TrialStatus
from scalesearch.model.scaling import ModelSpec
from scalesearch.study.halving import (agreement_lines, extra_trainings, promoted_count, promotions, rank_agreement,
                                      rungs_for)
from scalesearch.testing.analytic import analytic_objective
from scalesearch.verdict.verdict import decide
from tests.helpers import make_study, run_to_end


@pytest.mark.parametrize("epochs, reduction, lowest, expected", [
    (4, 3, None, (1, 4)), (9, 3, None, (3, 9)), (9, 3, 1, (1, 3, 9)), (12, 3, 2, (2, 4, 12)), (8, 2, 1, (1, 2, 4, 8)),
    (2, 3, None, (1, 2)), (1, 3, None, (1,)),
])
def test_each_rung_is_a_reduction_of_the_next_down_to_the_shortest(epochs, reduction, lowest, expected):
    assert rungs_for(epochs, reduction, lowest) == expected


def test_a_rung_keeps_a_reduction_of_its_networks_and_never_fewer_than_the_confirm_stage_needs():
    assert [promoted_count(n, 3, 3) for n in (1, 3, 9, 10, 30)] == [1, 3, 3, 4, 10]
    assert extra_trainings(10, (1, 3, 9), 3, 3, references=0) == 4 + 3
    assert extra_trainings(10, (1, 3, 9), 3, 3, references=6) == 4 + 3 + 6  # each reference at the shortest rung
    assert extra_trainings(10, (4,), 3, 3, references=6) == 0  # full fidelity adds nothing


def _rows(*rows) -> pd.DataFrame:
    columns = ("trial", "architecture", "rung", "status", "accuracy", "flops", "reference", "epochs")
    return pd.DataFrame([dict(zip(columns, row), stage="explore") for row in rows])


def test_promotions_wait_for_a_whole_rung_then_take_its_best_and_end_when_the_last_rung_is_done():
    screened = [(index, f"n{index}", 0, TrialStatus.SCREENED, accuracy, 100, None, 1)
                for index, accuracy in enumerate([0.5, 0.9, 0.7, 0.6, 0.8, 0.4])]
    table = _rows(*screened)
    assert promotions(table, (1, 4), 3, 2, in_flight={("n6", 0)}) == []  # the rung's last one still trains
    assert promotions(table, (1, 4), 3, 2, in_flight=set()) == [("n1", 1), ("n4", 1)]  # max(2, 6 / 3)
    assert promotions(table, (1, 4), 3, 2, in_flight={("n1", 1)}) == [("n4", 1)]
    done = _rows(*screened, (6, "n1", 1, TrialStatus.COMPLETE, 0.85, 100, None, 4))
    assert promotions(done, (1, 4), 3, 2, in_flight={("n4", 1)}) == []  # promoted and in flight: wait for it
    finished = _rows(*screened, (6, "n1", 1, TrialStatus.COMPLETE, 0.85, 100, None, 4),
                     (7, "n4", 1, TrialStatus.COMPLETE, 0.88, 100, None, 4))
    assert promotions(finished, (1, 4), 3, 2, in_flight=set()) is None
    # Rank agreement between the rungs, on the promoted: n1 > n4 at 1 epoch, n4 > n1 at 4: τ = −1, but of two.
    [pair] = rank_agreement(finished)
    assert (pair["from_epochs"], pair["to_epochs"], pair["n"], pair["kendall_tau"], pair["low"]) == (1, 4, 2, -1.0, False)
    assert "too few to judge" in agreement_lines(rank_agreement(finished))[0]
    # Four promoted, in the reverse order of their first rung: τ = −1, below 0.6, and the run says what to do.
    reversed_ = _rows(*screened, *[(6 + index, name, 1, TrialStatus.COMPLETE, accuracy, 100, None, 4)
                                   for index, (name, accuracy) in enumerate([("n1", 0.6), ("n4", 0.7), ("n2", 0.8),
                                                                             ("n3", 0.9)])])
    [pair] = rank_agreement(reversed_)
    assert (pair["n"], pair["kendall_tau"], pair["low"]) == (4, -1.0, True)
    assert "below 0.6" in agreement_lines(rank_agreement(reversed_))[0] and "--fidelity full" in agreement_lines(rank_agreement(reversed_))[0]
    assert rank_agreement(_rows((0, "a", None, TrialStatus.COMPLETE, 0.5, 100, None, 4))) == []  # full fidelity


def train(proposal, settings: dict) -> dict:
    """A trial's result for ``proposal``, as the Ray trial computes it: the rung's epochs when it has one."""
    settings = dict(settings, seed=proposal.seed, epochs=proposal.epochs or settings["epochs"])
    return analytic_objective(ModelSpec.from_dict(proposal.spec), None, settings, lambda metrics: None)


SETTINGS = {"epochs": 4, "seed_noise": 0.05}


def analytic(proposal) -> dict:
    return train(proposal, SETTINGS)


@pytest.mark.slow  # whole studies, a few seconds each
def test_a_halving_search_screens_every_candidate_short_and_judges_only_full_length_trainings(tmp_path):
    study = make_study(tmp_path, trials=9, references=True, seeds=3, confirm=3, rungs=(1, 4), reduction=3)
    proposals = run_to_end(study, analytic)
    table = study.table()
    everything_screened = table[table["status"] == TrialStatus.SCREENED]
    assert (everything_screened["epochs"] == 1).all() and (everything_screened["rung"] == 0).all()
    screened = everything_screened[everything_screened["reference"].fillna("") == ""]
    # Each reference trains at full length (the verdict's) and at the shortest rung (the rank agreement's).
    screened_references = everything_screened[everything_screened["reference"].fillna("") != ""]
    assert len(screened) == 9 and len(screened_references) == 4
    promoted = table[(table["rung"] == 1) & (table["status"] == TrialStatus.COMPLETE)]
    assert len(promoted) == 3 and (promoted["epochs"] == 4).all() and (promoted["stage"] == "explore").all()
    best_three = screened.sort_values("accuracy", ascending=False)["architecture"].head(3)
    assert set(promoted["architecture"]) == set(best_three)
    references = table[(table["reference"].fillna("") != "") & (table["stage"] == "explore")
                       & (table["status"] == TrialStatus.COMPLETE)]
    assert len(references) == 4 and (references["epochs"] == 4).all() and references["rung"].isna().all()
    # The confirm stage's networks are promoted ones and references, at full length with further seeds.
    confirm = table[table["stage"] == "confirm"]
    assert set(confirm["architecture"]) <= set(promoted["architecture"]) | set(references["architecture"])
    assert (confirm["epochs"] == 4).all() and set(confirm["seed"]) == {1, 2, 3}
    verdict = decide(table)
    judged = {network.architecture for network in [verdict.winner]}
    assert judged <= set(promoted["architecture"]) | set(references["architecture"])
    assert len(proposals) <= study.max_trainings()
    [pair] = rank_agreement(table)  # over the 3 promoted and the 4 references, at 1 epoch and at 4
    assert pair["n"] == 7 and (pair["from_epochs"], pair["to_epochs"]) == (1, 4)
    assert all(proposal.key.endswith(f":rung{0 if proposal.epochs == 1 else 1}") for proposal in proposals
               if proposal.epochs is not None)  # a network's rungs are distinct learning curves


@pytest.mark.slow
# 4 references, 9 candidates at the first rung, the references there too, 3 promoted, then the confirm stage: killed
# among the references, in the first rung, among the references' screens, among the promoted, in the confirm stage.
@pytest.mark.parametrize("kill_after", [2, 9, 14, 17, 21])
def test_a_halving_search_killed_in_any_rung_resumes_training_nothing_twice(tmp_path, kill_after):
    options = dict(trials=9, references=True, seeds=2, confirm=3, rungs=(1, 4), reduction=3)
    for name in ("whole", "killed"):
        (tmp_path / name).mkdir()
    reference = run_to_end(make_study(tmp_path / "whole", **options), analytic)
    folder = tmp_path / "killed"
    killed = run_to_end(make_study(folder, **options), analytic, stop_after=kill_after)
    resumed = run_to_end(make_study(folder, resume=True, **options), analytic)
    table = make_study(folder, resume=True, **options).table()
    trained = table[table["status"].isin([TrialStatus.COMPLETE, TrialStatus.SCREENED])]
    counts = Counter(zip(trained["architecture"], trained["rung"].fillna(-1), trained["seed"]))
    assert max(counts.values()) == 1  # no training twice
    # The one in flight at the kill was trained again; every other one once: as many as the unkilled run.
    assert len(killed) - 1 + len(resumed) == len(reference) == len(trained)
    # And the resumed run promoted the best of its own first rung, as an unkilled one does.
    searched = trained[trained["reference"].fillna("") == ""]
    first = searched[searched["rung"] == 0].sort_values("accuracy", ascending=False)["architecture"].head(3)
    assert set(searched[searched["rung"] == 1]["architecture"]) == set(first)
