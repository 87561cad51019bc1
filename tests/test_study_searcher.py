"""The searcher's logic without Ray (pipeline/study_searcher.py): proposals out as trial configs, results, failures
and crashes back into a real study; a study that cannot record a result stops the search and is raised after.

The trainings are the analytic objective's, run by hand here as a Ray trial would run them."""
from __future__ import annotations

import shutil

import pytest

from scalesearch.foundation.table import RESULT_FIELDS
from scalesearch.model.scaling import ModelSpec, scale
from scalesearch.pipeline.study_searcher import FINISHED, TRAIN_AGAIN_LIMIT, StudySearcher, result_of
from scalesearch.pipeline.trial_crash import GENERIC
from scalesearch.study.planned import Planned, PlannedTrainings
from scalesearch.testing.analytic import analytic_objective
from tests.helpers import TINY, make_study


def trained(config: dict, epochs: int = 2) -> dict:
    """The final report of a trial that trained ``config`` (what the Ray trial reports)."""
    spec = ModelSpec.from_dict(config["spec"])
    result = analytic_objective(spec, None, {"epochs": epochs, "seed": config["seed"]}, lambda metrics: None)
    return dict(result, final=True)


def row(study, number: int):
    table = study.table()
    return table[table["trial"] == number].iloc[0]


def searcher_of(study, epochs: int = 2):
    events = []
    return StudySearcher(study, epochs, on_event=lambda kind, number: events.append((kind, number))), events


def test_proposals_go_out_as_configs_and_results_come_back_into_the_study(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=2, references=False)
    searcher, events = searcher_of(study)
    configs = [searcher.suggest("a"), searcher.suggest("b")]
    assert all(set(config) == {"spec", "seed", "trial"} for config in configs)
    assert row(study, configs[0]["trial"])["status"] == "running"
    results = [trained(config) for config in configs]
    for trial_id, config, result in zip("ab", configs, results):
        searcher.on_trial_complete(trial_id, result)
        recorded = row(study, config["trial"])
        assert recorded["status"] == "complete" and recorded["accuracy"] == pytest.approx(result["accuracy"])
        assert recorded["epochs"] == 2
    assert searcher.suggest("c") == FINISHED  # two trials asked, two trained
    first, second = (config["trial"] for config in configs)
    assert events == [("started", first), ("started", second), ("finished", first), ("finished", second)]
    searcher.finish()  # nothing to raise


def test_a_failed_training_is_recorded_failed_with_its_reason(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=1, references=False)
    searcher, events = searcher_of(study)
    config = searcher.suggest("a")
    searcher.on_trial_complete("a", {"failed": "ValueError: boom", "accuracy": 0.0, "epoch": 0})
    recorded = row(study, config["trial"])
    assert recorded["status"] == "failed" and recorded["reason"] == "ValueError: boom"
    assert events[-1] == ("finished", config["trial"])


def test_a_crash_waits_for_its_reason_and_gets_the_generic_one_if_none_comes(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=3, references=False)
    searcher, events = searcher_of(study)
    first, second = searcher.suggest("a"), searcher.suggest("b")
    searcher.on_trial_complete("a", None, error=True)
    assert row(study, first["trial"])["status"] == "running"  # until the crash callback gives the reason
    searcher.record_crashes({"a": "the trial's process died"})
    assert row(study, first["trial"])["reason"] == "the trial's process died"
    searcher.record_crashes({"a": "told twice"})  # already told: nothing happens
    assert row(study, first["trial"])["reason"] == "the trial's process died"
    searcher.on_trial_complete("b", {})  # a trial that ended without a report is a crash too
    third = searcher.suggest("c")  # told before the next proposal, with the generic reason
    failed = row(study, second["trial"])
    assert failed["status"] == "failed" and failed["reason"] == GENERIC
    assert third["trial"] not in (first["trial"], second["trial"])
    assert ("finished", first["trial"]) in events and ("finished", second["trial"]) in events


def test_a_trial_stopped_before_its_last_epoch_is_pruned_and_one_stopped_at_it_complete(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=2, references=False)
    searcher, _ = searcher_of(study, epochs=4)
    early, late = searcher.suggest("a"), searcher.suggest("b")
    searcher.on_trial_complete("a", {"accuracy": 0.3, "loss": 0.7, "epoch": 1})  # an ASHA stop: no final report
    searcher.on_trial_complete("b", {"accuracy": 0.5, "loss": 0.5, "epoch": 4})
    assert row(study, early["trial"])["status"] == "pruned" and row(study, early["trial"])["epochs"] == 1
    assert row(study, late["trial"])["status"] == "complete" and row(study, late["trial"])["epochs"] == 4


def test_the_confirm_stage_waiting_for_results_in_flight_is_no_config_yet(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=2, references=False, seeds=2, confirm=1)
    searcher, _ = searcher_of(study)
    explore = [searcher.suggest("a"), searcher.suggest("b")]
    assert searcher.suggest("c") is None  # Tune asks again once a trial has finished
    for trial_id, config in zip("ab", explore):
        searcher.on_trial_complete(trial_id, trained(config))
    confirm = searcher.suggest("c")
    assert confirm is not None and confirm != FINISHED and confirm["seed"] == 1


def test_a_result_the_study_cannot_record_stops_the_search_and_is_raised_after(tmp_path):
    spec = scale(TINY).to_dict()
    plan = [Planned(f"net:seed{seed}", spec, seed, {"flops": 1}) for seed in range(3)]
    stage = PlannedTrainings(tmp_path / "stage" / "stage.csv", plan)
    (tmp_path / "stage").mkdir()
    searcher, events = searcher_of(stage)
    first, second = searcher.suggest("a"), searcher.suggest("b")
    shutil.rmtree(tmp_path / "stage")  # the stage's table cannot be written any more
    searcher.on_trial_complete("a", trained(first))  # not raised here: Tune would search on without the record
    assert searcher.suggest("c") == FINISHED
    searcher.on_trial_complete("b", {"failed": "ValueError: boom", "accuracy": 0.0, "epoch": 0})
    assert [kind for kind, _ in events] == ["started", "started"]  # neither was recorded
    with pytest.raises(OSError):  # pandas': no folder to save into
        searcher.finish()


def test_planned_trainings_go_out_in_order_and_their_results_are_kept(tmp_path):
    spec = scale(TINY).to_dict()
    plan = [Planned(f"net:seed{seed}", spec, seed, {"flops": 1}) for seed in range(2)]
    stage = PlannedTrainings(tmp_path / "stage.csv", plan)
    searcher, _ = searcher_of(stage)
    configs = [searcher.suggest("a"), searcher.suggest("b")]
    # Nothing new, but both in flight: either may lose its node and need another trial, so not finished yet.
    assert [config["seed"] for config in configs] == [0, 1] and searcher.suggest("c") is None
    for trial_id, config in zip("ab", configs):
        searcher.on_trial_complete(trial_id, trained(config))
    assert searcher.suggest("c") == FINISHED
    table = stage.table()
    assert list(table["status"]) == ["complete", "complete"] and (table["epochs"] == 2).all()


def test_a_trial_lost_with_its_node_is_trained_again_by_the_next_trial_as_the_same_training(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=2, references=False)
    searcher, events = searcher_of(study)
    first, second = searcher.suggest("a"), searcher.suggest("b")
    searcher.on_trial_complete("a", None, error=True)
    assert searcher.train_again("a", "lost")
    assert row(study, first["trial"])["status"] == "running"  # the study never hears of the loss
    again = searcher.suggest("c")  # before anything new: the same network, seed and study trial
    assert again == first
    searcher.on_trial_complete("c", trained(again))
    searcher.on_trial_complete("b", trained(second))
    assert row(study, first["trial"])["status"] == "complete" and searcher.suggest("d") == FINISHED
    assert events.count(("started", first["trial"])) == 1 and ("lost", first["trial"]) in events


def test_a_training_that_keeps_losing_its_node_is_failed_with_the_reason_after_the_limit(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=1, references=False)
    searcher, _ = searcher_of(study)
    config = searcher.suggest("t0")
    for attempt in range(1, TRAIN_AGAIN_LIMIT + 1):
        searcher.on_trial_complete(f"t{attempt - 1}", None, error=True)
        assert searcher.train_again(f"t{attempt - 1}", "lost again and again")
        assert searcher.suggest(f"t{attempt}") == config
    searcher.on_trial_complete(f"t{TRAIN_AGAIN_LIMIT}", None, error=True)
    assert not searcher.train_again(f"t{TRAIN_AGAIN_LIMIT}", "lost again and again")
    recorded = row(study, config["trial"])
    assert recorded["status"] == "failed" and recorded["reason"] == "lost again and again"
    assert searcher.suggest("last") == FINISHED


def test_a_lost_training_no_trial_took_before_tune_ended_is_failed_not_left_running(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=1, references=False)
    searcher, _ = searcher_of(study)
    config = searcher.suggest("a")
    searcher.on_trial_complete("a", None, error=True)
    searcher.train_again("a", "lost")
    searcher.finish()
    recorded = row(study, config["trial"])
    assert recorded["status"] == "failed" and "lost with its Ray node" in recorded["reason"]


def test_a_result_is_the_tables_result_fields_of_the_last_report():
    report = {"accuracy": 0.5, "latency_ms": 2.0, "epoch": 3, "final": True, "time_total_s": 1.0, "trial_id": "a"}
    assert result_of(report) == {"accuracy": 0.5, "latency_ms": 2.0, "epochs": 3}
    assert result_of({"accuracy": 0.5, "epochs": 4, "epoch": 4})["epochs"] == 4  # the training's own count first
    assert set(result_of(report)) <= set(RESULT_FIELDS)


def test_a_rung_of_halving_goes_out_with_its_epochs_and_its_curve_is_screened_not_complete(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=1, references=False, rungs=(1, 2), reduction=3, confirm=1)
    curves = []
    searcher = StudySearcher(study, 2, on_curve=curves.append)
    config = searcher.suggest("a")
    assert config["epochs"] == 1  # the first rung's length, for the trial's settings
    searcher.on_trial_result("a", {"epoch": 1, "accuracy": 0.4, "loss": 0.6})
    searcher.on_trial_complete("a", dict(trained(config, epochs=1), epoch=1))
    assert row(study, config["trial"])["status"] == "screened"
    assert [curve.status for curve in curves] == ["screened"]  # the still-rising rule counts complete curves only
    promoted = searcher.suggest("b")
    same = ModelSpec.from_dict(promoted["spec"]).architecture() == ModelSpec.from_dict(config["spec"]).architecture()
    assert promoted["epochs"] == 2 and same  # the network the first rung ranked best, at the proxy's length
