"""The corner check (scalesearch/study/corner.py): a single-dimension explore leader's two compound neighbours are
trained before the confirm stage, once a run, a resumed run included. Real Optuna studies; the training is a world's
stand-in (scalesearch/testing/worlds.py), so which network leads is known."""
from __future__ import annotations

from collections import Counter

import pytest

from scalesearch.cost.measure import measure
from scalesearch.foundation.spending import spending_shares
from scalesearch.foundation.status import ATTEMPTED, TrialStatus
from scalesearch.model.scaling import ModelSpec, proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.study import corner
from scalesearch.study.proposal import Waiting
from scalesearch.study.samplers import SHARE_STEP, coefficients_from_shares
from scalesearch.study.settings import SearchSettings
from scalesearch.testing.worlds import World
from scalesearch.training.presets import PRESETS
from tests.helpers import TINY
from tests.helpers import make_study as make_any_study
from tests.helpers import run_to_end

pytestmark = pytest.mark.slow  # whole studies, a few seconds each

OPTIONS = dict(trials=6, references=True, seeds=3, confirm=3, corner_check=True)


def make_study(folder, resume=False, **settings):
    folder.mkdir(parents=True, exist_ok=True)
    return make_any_study(folder, resume=resume, **settings)


def trained_on(world: World):
    """A training's stand-in: ``world``'s accuracy for the proposal's network and seed."""
    def train(proposal) -> dict:
        spec = ModelSpec.from_dict(proposal.spec)
        accuracy = world.accuracy(spec.architecture(), proposal.seed, spec.depth, spec.width,
                                  spec.resolution / TINY.resolution)
        return {"accuracy": accuracy, "loss": 1 - accuracy, "train_loss": 1.0, "epochs": 1, "train_seconds": 1.0}
    return train


def neighbour_trials(study) -> list:
    """The check's own trials (a confirmed neighbour's confirm trials carry its ``neighbour_of`` too)."""
    return [t for t in study.study.get_trials(deepcopy=False)
            if t.user_attrs.get("neighbour_of") and t.user_attrs.get("stage", "explore") == "explore"]


def test_a_single_dimension_leading_the_explore_stage_has_its_compound_neighbours_trained_before_confirming(tmp_path):
    world = World("width", delta=40.0, replay=1)  # width pays so much that width-only leads the explore stage
    study = make_study(tmp_path, **OPTIONS)
    proposals = run_to_end(study, trained_on(world))
    table = study.table().set_index("trial")
    neighbours = neighbour_trials(study)
    assert len(neighbours) == corner.NEIGHBOURS and {t.user_attrs["neighbour_of"] for t in neighbours} == {"width-only"}
    first_confirm = min(table.index[table["stage"] == "confirm"])
    for trial in neighbours:
        row = table.loc[trial.number]
        assert row["stage"] == "explore" and trial.number < first_confirm and row["neighbour_of"] == "width-only"
        assert row["status"] in (TrialStatus.COMPLETE, TrialStatus.DUPLICATE)
        shares = spending_shares(row["alpha"], row["beta"], row["gamma"])
        # A compound next to width-only: width still takes most of the growth, and another dimension some.
        assert shares[1] == max(shares) and sorted(shares)[1] > 0.05
    assert table["neighbour_of"].notna().sum() >= len(neighbours)  # and their confirm seeds, if confirmed
    assert len(proposals) <= study.max_trainings() == make_study(tmp_path / "off", **{
        **OPTIONS, "corner_check": False}).max_trainings() + corner.NEIGHBOURS


def test_no_neighbours_where_a_compound_leads_or_the_check_is_off(tmp_path):
    compound = make_study(tmp_path / "compound", **OPTIONS)
    run_to_end(compound, trained_on(World("compound", delta=40.0, replay=1)))
    assert neighbour_trials(compound) == []
    off = make_study(tmp_path / "off", **{**OPTIONS, "corner_check": False})
    run_to_end(off, trained_on(World("width", delta=40.0, replay=1)))
    assert neighbour_trials(off) == []
    assert not SearchSettings(budget=2.0, sampler="grid", corner_check=True).checks_corners
    assert not SearchSettings(budget=2.0, rungs=(1, 4), corner_check=True).checks_corners


@pytest.mark.parametrize("in_flight", [0, 1])  # killed with the first neighbour in flight, or the second
def test_a_run_killed_at_its_neighbours_resumes_training_each_network_once(tmp_path, in_flight):
    world = World("width", delta=40.0, replay=1)
    whole = run_to_end(make_study(tmp_path / "whole", **OPTIONS), trained_on(world))
    explore = sum(1 for t in neighbour_trials(make_study(tmp_path / "whole", resume=True, **OPTIONS)))
    references = make_study(tmp_path / "count", **OPTIONS).reference_count()
    folder = tmp_path / "killed"
    killed = run_to_end(make_study(folder, **OPTIONS), trained_on(world),
                        stop_after=references + OPTIONS["trials"] + in_flight)
    assert explore == corner.NEIGHBOURS and len(neighbour_trials(make_study(folder, resume=True, **OPTIONS))) >= 1
    resumed = run_to_end(make_study(folder, resume=True, **OPTIONS), trained_on(world))
    study = make_study(folder, resume=True, **OPTIONS)
    table = study.table()
    trained = table[table["status"].isin(ATTEMPTED)]
    assert max(Counter(zip(trained["architecture"], trained["seed"])).values()) == 1  # nothing trained twice
    assert len({t.user_attrs["architecture"] for t in neighbour_trials(study)}) == corner.NEIGHBOURS
    # The training in flight at the kill was trained again; every other once: as many as the unkilled run.
    assert len(killed) - 1 + len(resumed) == len(whole)


def test_the_neighbours_of_each_single_dimension_on_the_default_base_are_compounds_on_budget_next_to_it():
    preset = PRESETS["cpu-tiny"]
    base = proxy_base(load_space("efficientnet_b0"), preset.base_width, preset.base_depth, preset.base_resolution)
    base_flops = measure(scale(base), 10, counter="arithmetic").flops
    settings = SearchSettings(budget=2.0, corner_check=True)
    from scalesearch.study.candidates import measure_candidate

    for index, dimension in enumerate(("depth-only", "width-only", "resolution-only")):
        points = corner.neighbours(base, base_flops, settings, dimension)
        assert 1 <= len(points) <= corner.NEIGHBOURS
        for point in points:
            assert all(abs(share / SHARE_STEP - round(share / SHARE_STEP)) < 1e-9 for share in point)  # the grid's
            candidate = measure_candidate(base, base_flops, settings, *coefficients_from_shares(*point, 2.0),
                                          "resolution")
            spec = candidate.spec
            shares = spending_shares(spec.depth, spec.width, spec.resolution / base.resolution)
            assert candidate.feasible and shares[index] >= 0.5 and sorted(shares)[1] > 0.05


def test_with_two_slots_the_check_waits_for_the_explore_stage_and_a_slot_trains_a_reference_seed_meanwhile(tmp_path):
    world = World("width", delta=40.0, replay=1)
    study = make_study(tmp_path, **OPTIONS)
    in_flight, order = [], []  # two slots: a training finishes only when both are busy or nothing else is proposed
    while True:
        proposal = study.propose()
        if proposal is not None and not isinstance(proposal, Waiting):
            in_flight.append(proposal)
            order.append(proposal)
            if len(in_flight) < 2:
                continue
        if not in_flight:
            break
        done = in_flight.pop(0)
        study.complete(done.trial, trained_on(world)(done))
    table = study.table().set_index("trial")
    assert len(neighbour_trials(study)) == corner.NEIGHBOURS
    started = [proposal.trial for proposal in order]
    neighbours = [t.number for t in neighbour_trials(study) if t.number in started]  # not a duplicate's
    assert neighbours
    explore = [trial for trial in started if table.loc[trial, "stage"] == "explore" and trial not in neighbours]
    # No neighbour starts before the last searched candidate has finished: only then is the leader known.
    last_explore = started.index(explore[-1])
    assert all(started.index(trial) > last_explore + 1 for trial in neighbours)
    # Meanwhile the other slot trained a reference's confirm seed, which is needed whatever leads.
    between = started[last_explore + 1:started.index(neighbours[0])]
    assert between and all(table.loc[trial, "stage"] == "confirm" and table.loc[trial, "reference"] for trial in between)


def test_a_run_from_before_the_check_resumes_without_it_and_a_new_run_has_it_by_default(tmp_path):
    from scalesearch.foundation.run_files import CONFIG_FILE
    from scalesearch.pipeline.options import RunOptions, options_from

    assert RunOptions().corner_check
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    (old / CONFIG_FILE).write_text("budget: 2.0\nseed: 3\n")  # an older run's config: no corner_check key
    (new / CONFIG_FILE).write_text("budget: 2.0\nseed: 3\ncorner_check: true\n")
    assert options_from({"resume": str(old)}).corner_check is False
    assert options_from({"resume": str(new)}).corner_check is True
    assert options_from({"budget": 2.0}).corner_check is True
