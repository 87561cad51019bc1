"""The study without Ray: what is proposed for training, duplicates, failures, recovery."""
import pytest

from scalesearch.cost.measure import measure
from scalesearch.foundation.table import load_table
from scalesearch.model.scaling import scale
from scalesearch.study.search_study import SearchSettings, SearchStudy
from tests.helpers import BASE_FLOPS, TINY, make_study


def test_references_are_proposed_first_and_labelled(tmp_path):
    study = make_study(tmp_path)
    proposals = [study.propose() for _ in range(4)]
    table = study.table().set_index("trial")
    assert [table.loc[p.trial, "reference"] for p in proposals] == ["dWr", "depth-only", "width-only", "resolution-only"]


@pytest.mark.slow  # over ~2 s
def test_measured_mode_never_trains_an_infeasible_candidate(tmp_path):
    study = make_study(tmp_path, constraint="measured", references=False, trials=4)
    proposals = []
    while (proposal := study.propose()) is not None:
        proposals.append(proposal)
        study.complete(proposal.trial, {"accuracy": 0.5})
    table = load_table(tmp_path).set_index("trial")
    trained = [p.trial for p in proposals]
    assert table.loc[trained, "feasible"].all()
    assert (table.loc[trained, "flops_ratio"] - 2.0).abs().max() < 0.1
    infeasible = table[table["status"] == "infeasible"]
    assert not set(infeasible.index) & set(trained)
    assert infeasible["reason"].str.contains("measured FLOPs ratio").all()


def test_a_duplicate_network_is_not_trained_again_and_reuses_the_result(tmp_path):
    study = make_study(tmp_path, references=False, trials=3)
    # Depth 1.05 and 1.2 round to the same blocks; same width and resolution: the same network.
    study.study.enqueue_trial({"depth_share": 0.8, "width_share": 0.0})
    study.study.enqueue_trial({"depth_share": 0.8, "width_share": 0.0})
    first = study.propose()
    second = study.propose()  # the duplicate waits on the first, so a new candidate comes instead
    assert second.trial != first.trial + 1
    study.complete(first.trial, {"accuracy": 0.61, "train_seconds": 3.0})
    row = study.table().set_index("trial").loc[first.trial + 1]
    assert row["status"] == "duplicate" and row["duplicate_of"] == first.trial
    assert row["accuracy"] == pytest.approx(0.61)
    assert study.trainings_started() == 2  # the duplicate took no training slot


def test_a_failed_trial_is_recorded_with_its_reason(tmp_path):
    study = make_study(tmp_path, references=False)
    proposal = study.propose()
    study.fail(proposal.trial, "FloatingPointError: loss became nan at epoch 2")
    row = load_table(tmp_path).set_index("trial").loc[proposal.trial]
    assert row["status"] == "failed" and "nan" in row["reason"]
    assert study.propose() is not None  # the search goes on


def test_recovery_keeps_finished_trials_and_reruns_those_in_flight(tmp_path):
    study = make_study(tmp_path, references=False)
    done, in_flight = study.propose(), study.propose()
    study.complete(done.trial, {"accuracy": 0.7})
    del study  # the process dies here: in_flight never reports

    resumed = make_study(tmp_path, resume=True)
    table = resumed.table().set_index("trial")
    assert table.loc[done.trial, "status"] == "complete" and table.loc[done.trial, "accuracy"] == 0.7
    assert in_flight.trial not in table.index  # the interrupted attempt is not a result
    again = resumed.propose()
    assert again.spec == in_flight.spec  # the same candidate, trained again
    assert resumed.trainings_started() == 2


def test_the_training_budget_stops_proposals(tmp_path):
    study = make_study(tmp_path, references=False, trials=2)
    for _ in range(2):
        proposal = study.propose()
        study.complete(proposal.trial, {"accuracy": 0.5})
    assert study.propose() is None


def test_formula_grid_summary_counts_points(tmp_path):
    study = make_study(tmp_path, sampler="grid", references=False)
    summary = study.grid_summary()
    assert (summary["points"], summary["candidates"], summary["step"]) == (2541, 108, 0.05)
    assert 1 < summary["distinct"] < 108  # rounding makes many grid points the same network


def test_the_nni_grid_builds_65_distinct_b0_networks(tmp_path):
    from scalesearch.model.spaces import load_space

    study = SearchStudy(tmp_path, load_space("efficientnet_b0"), 1,
                        SearchSettings(budget=2.0, sampler="grid", constraint="formula", references=False))
    assert study.grid_summary()["distinct"] == 65  # docs/design.md §3: 108 feasible points, 65 networks


@pytest.mark.slow  # over ~2 s
def test_a_grid_search_runs_to_the_last_grid_point_and_resumes_as_done(tmp_path):
    from scalesearch.study.samplers import GridSpec

    small_grid = GridSpec(alpha_range=(1.0, 1.2), beta_range=(1.0, 1.1), gamma_range=(1.0, 1.5))
    study = make_study(tmp_path, sampler="grid", references=False, trials=100, grid=small_grid)
    trained = []
    while (proposal := study.propose()) is not None:  # Optuna's GridSampler raised at the last point
        trained.append(proposal.trial)
        study.complete(proposal.trial, {"accuracy": 0.5})
    table = study.table()
    assert len(table) == len(study.grid) and len(trained) == study.grid_summary()["distinct"]
    resumed = make_study(tmp_path, resume=True, sampler="grid", references=False, trials=100, grid=small_grid)
    assert resumed.propose() is None


@pytest.mark.slow  # over ~2 s
def test_single_dimension_references_scale_only_their_dimension_to_the_closest_measured_budget(tmp_path):
    from scalesearch.cost.formula import count

    study = make_study(tmp_path, constraint="measured", trials=3)
    proposals = [study.propose() for _ in range(4)]
    table = study.table().set_index("trial")
    rows = {table.loc[p.trial, "reference"]: table.loc[p.trial] for p in proposals}
    assert set(rows) == {"dWr", "depth-only", "width-only", "resolution-only"}
    assert rows["depth-only"]["width"] == 1.0 and rows["depth-only"]["resolution"] == TINY.resolution
    assert rows["width-only"]["depth"] == 1.0 and rows["width-only"]["resolution"] == TINY.resolution
    assert rows["resolution-only"]["width"] == rows["resolution-only"]["depth"] == 1.0
    # No other network along the same dimension measures closer to 2x (solving γ instead gave
    # width-only a smaller input, and left depth-only wherever α = 2 happened to land).
    along = {
        "depth-only": [scale(TINY, width=1.0, depth=1.0 + step / 100) for step in range(0, 300)],
        "width-only": [scale(TINY, width=1.0 + step / 200, depth=1.0) for step in range(0, 200)],
        "resolution-only": [scale(TINY, pixels=size) for size in range(32, 96)],
    }
    for label, specs in along.items():
        best_gap = min(abs(count(spec, 10)[0] / BASE_FLOPS - 2.0) for spec in specs)
        assert abs(rows[label]["flops_ratio"] - 2.0) <= best_gap + 1e-9, label


def test_off_budget_candidates_are_not_traced_but_recorded_with_fvcores_figures(monkeypatch):
    from scalesearch.cost import measure as measure_module
    from scalesearch.study.feasibility import evaluate

    def candidate(alpha, **options):
        return evaluate(TINY, BASE_FLOPS, alpha, 1.0, 1.0, budget=2.0, tolerance=0.1, constraint="measured",
                        num_classes=10, solve_resolution=False, **options)

    traces = []  # fvcore's tracer watched, not replaced: the comparison below traces through it
    trace = measure_module._count_fvcore
    monkeypatch.setattr(measure_module, "_count_fvcore", lambda *args: traces.append(args) or trace(*args))
    off_budget = candidate(3.0)
    assert not off_budget.feasible and off_budget.cost.counter == "arithmetic" and traces == []
    traced = measure(off_budget.spec, 10)
    assert (off_budget.cost.flops, off_budget.cost.params, off_budget.cost.activations) == (
        traced.flops, traced.params, traced.activations)


def _fake_accuracy(trial_row, seed) -> float:
    """A cheap deterministic objective in place of training: resolution pays, and each seed shifts every network
    alike (so paired differences are exact) plus a small network-specific wobble."""
    import zlib

    wobble = (zlib.crc32(f"{trial_row['architecture']}:{seed}".encode()) % 7) / 1000
    return 0.3 + 0.004 * trial_row["resolution"] + 0.01 * seed + wobble


def _drive(study):
    """Run the study to the end one training at a time, as Ray would with one slot."""
    from scalesearch.study.proposal import Waiting

    trainings = []
    while (proposal := study.propose()) is not None:
        assert not isinstance(proposal, Waiting), "one slot: nothing is ever in flight when it asks"
        row = study.table().set_index("trial").loc[proposal.trial]
        trainings.append((row["architecture"], proposal.seed, row["stage"]))
        study.complete(proposal.trial, {"accuracy": _fake_accuracy(row, proposal.seed), "latency_ms": 1.0})
    return trainings


def test_references_do_not_count_against_trials_with_fake_objective(tmp_path):
    study = make_study(tmp_path, trials=2, references=True)
    trainings = _drive(study)
    table = study.table()
    assert (table["reference"].fillna("") == "").sum() >= 2
    assert study.searched_trainings_started() == 2
    assert len(trainings) == 2 + 4  # two searched candidates beside dWr and the three single-dimension references


@pytest.mark.slow  # over ~2 s
def test_the_confirm_stage_trains_the_top_networks_and_references_with_paired_seeds_with_fake_objective(tmp_path):
    study = make_study(tmp_path, trials=5, references=True, seeds=3, confirm=2, seed=10)
    trainings = _drive(study)
    table = study.table()
    confirm = table[table["stage"] == "confirm"]
    assert set(confirm["seed"]) <= {11, 12, 13} and len(confirm)  # judging seeds: drawn after explore seed 10 chose
    explore = table[(table["stage"] == "explore") & (table["status"] == "complete")]
    references = set(explore[explore["reference"].fillna("") != ""]["architecture"])
    # Every reference reaches 3 judging seeds (they are protected from racing) beside the explore seed; nothing is
    # trained twice with a seed.
    for architecture in references:
        seeds = table[(table["architecture"] == architecture) & (table["status"] == "complete")]["seed"]
        assert sorted(seeds) == [10, 11, 12, 13]
    assert len(trainings) == len(set(trainings))
    assert len(confirm) <= study.max_trainings() - 5 - len(references)


@pytest.mark.slow  # over ~2 s
def test_racing_drops_a_network_that_cannot_win_with_fake_objective(tmp_path):
    from scalesearch.study.confirm import plan

    study = make_study(tmp_path, trials=4, references=False, seeds=4, confirm=3, seed=0)
    _drive(study)
    table = study.table()
    judged = table[(table["status"] == "complete") & (table["stage"] == "confirm")]
    per_network = judged.groupby("architecture")["seed"].nunique()
    # The fake objective separates networks by resolution far beyond its wobble: racing stops the worst early.
    assert per_network.max() == 4 and per_network.min() < 4
    assert plan(table, base_seed=0, seeds=4, top=3, in_flight=set()) is None  # done, and a resume plans nothing


def test_a_confirm_seed_in_flight_at_a_kill_is_trained_again_on_resume_with_fake_objective(tmp_path):
    study = make_study(tmp_path, trials=3, references=False, seeds=2, confirm=2, seed=0)
    while (proposal := study.propose()) is not None:
        row = study.table().set_index("trial").loc[proposal.trial]
        if row["stage"] == "confirm":
            break  # killed with this confirm seed in flight
        study.complete(proposal.trial, {"accuracy": _fake_accuracy(row, proposal.seed)})
    lost = (row["architecture"], proposal.seed)
    resumed = make_study(tmp_path, resume=True, trials=3, references=False, seeds=2, confirm=2, seed=0)
    trainings = _drive(resumed)
    assert lost in [(architecture, seed) for architecture, seed, _ in trainings]
    complete = resumed.table()[resumed.table()["status"] == "complete"]
    assert len(complete[complete["stage"] == "explore"]) == 3  # no explore training repeated
