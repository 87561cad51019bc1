"""Learning curves (issue 22 §3): every training's per-epoch validation accuracy and loss kept in the run folder
(learning_curves.csv, runs/learning_curves.py), shown per network in the report with the still-rising heuristic
(runs/still_learning.py, report/learning.py), and written as TensorBoard runs with --tensorboard
(runs/tensorboard_events.py), read back here with TensorBoard's own reader.

Ray-free unless marked slow: the searcher's logic is driven by hand as Tune drives it, with the analytic objective's
epoch reports where the name says so; the slow test runs a real local Ray."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from scalesearch.cli.main import main
from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import LEARNING_CURVES_FILE
from scalesearch.model.scaling import ModelSpec
from scalesearch.pipeline.study_searcher import StudySearcher
from scalesearch.report.learning import learning_section
from scalesearch.report.write import write_report
from scalesearch.runs.folder import read_run
from scalesearch.runs.learning_curves import (
    COLUMNS, SEARCH, EpochMetrics, LearningCurve, LearningCurves, read_learning_curves,
)
from scalesearch.runs.still_learning import RISING, RULE, last_epoch_gain
from scalesearch.testing.analytic import analytic_objective
from scalesearch.verdict.verdict import decide, networks
from tests.helpers import make_study
from tests.run_fixture import demo_records, make_run, write_tiny_space


def curve(training: str, accuracies, *, seed: int = 0, status: str = "complete", stage: str = SEARCH,
          network: str = "net", architecture: str = "arch") -> LearningCurve:
    return LearningCurve(stage, training, network, architecture, seed, status,
                         tuple(EpochMetrics(epoch, accuracy, 1.0 - accuracy, 2.0, 0.5)
                               for epoch, accuracy in enumerate(accuracies, start=1)))


def train(searcher: StudySearcher, trial_id: str, config: dict, epochs: int = 3, *, last_report_only_at_the_end=False):
    """What a Ray trial and Tune do: the analytic objective's epoch reports to on_trial_result as they come, then
    the final report to on_trial_complete. Returns the epoch reports."""
    reports = []
    result = analytic_objective(ModelSpec.from_dict(config["spec"]), None, {"epochs": epochs, "seed": config["seed"]},
                                reports.append)
    given = reports[:-1] if last_report_only_at_the_end else reports
    for report in given:
        searcher.on_trial_result(trial_id, report)
    if last_report_only_at_the_end:  # a scheduler stopped it at this report: Tune hands it to on_trial_complete only
        searcher.on_trial_complete(trial_id, reports[-1])
    else:
        searcher.on_trial_complete(trial_id, dict(result, final=True))
    return reports


def status_of(study, number: int) -> str:
    table = study.table()
    return str(table[table["trial"] == number].iloc[0]["status"])


# ----- the file -------------------------------------------------------------------------------------------------

def test_curves_are_kept_whole_one_row_per_epoch_and_a_training_recorded_again_replaces_its_own(tmp_path):
    store = LearningCurves(tmp_path)
    store.record(curve("a:seed0", [0.2, 0.4]))
    store.record(curve("b:seed0", [0.3, 0.5, 0.6], architecture="b"))
    store.record(curve("k0", [0.1], stage="check"))
    frame = pd.read_csv(tmp_path / LEARNING_CURVES_FILE)
    assert tuple(frame.columns) == COLUMNS and len(frame) == 2 + 3 + 1
    assert list(frame[frame["training"] == "b:seed0"]["epoch"]) == [1, 2, 3]
    # Opened again, as a resumed run opens it: the earlier curves are there; the same training recorded again (trained
    # again after a kill that fell before the study had its result) replaces its curve, and a new one is added.
    again = LearningCurves(tmp_path)
    assert [c.identity for c in again.curves()] == [(SEARCH, "a:seed0"), (SEARCH, "b:seed0"), ("check", "k0")]
    again.record(curve("a:seed0", [0.25, 0.45]))
    again.record(curve("c:seed1", [0.5, 0.7], seed=1, architecture="c"))
    read = read_learning_curves(tmp_path)
    assert [c.training for c in read] == ["b:seed0", "k0", "a:seed0", "c:seed1"]
    assert [epoch.accuracy for epoch in read[2].epochs] == [0.25, 0.45]  # the second training's, not both
    assert read[3].epochs[1] == EpochMetrics(2, 0.7, 1.0 - 0.7, 2.0, 0.5)  # every figure back exactly
    assert sorted(path.name for path in tmp_path.iterdir()) == [LEARNING_CURVES_FILE]  # no temporary file left


def test_a_run_folder_without_the_file_has_no_curves_and_a_damaged_one_is_one_line_naming_it(tmp_path):
    assert read_learning_curves(tmp_path) == []
    (tmp_path / LEARNING_CURVES_FILE).write_text("stage,training\nsearch,a\n")
    with pytest.raises(InputError, match=f"{LEARNING_CURVES_FILE} lacks columns: accuracy"):
        read_learning_curves(tmp_path)
    (tmp_path / "ok").mkdir()
    store = LearningCurves(tmp_path / "ok")
    store.record(curve("a", [0.2, 0.4]))
    text = store.path.read_text().replace("0.4", "forty")
    store.path.write_text(text)
    with pytest.raises(InputError, match="holds a value of the wrong type") as error:
        LearningCurves(tmp_path / "ok")  # a resume meets it before any training: named, never replaced
    assert str(store.path) in str(error.value) and "\n" not in str(error.value)


# ----- the searcher: what reaches the file, and when -----------------------------------------------------------

def test_the_searcher_records_every_epoch_before_the_study_hears_of_the_result_with_analytic_objective(tmp_path):
    study = make_study(tmp_path, sampler="random", trials=3, references=False)
    recorded = []

    def keep(learning_curve):  # the study's row at the moment the curve arrives
        recorded.append((learning_curve, status_of(study, number_of[learning_curve.seed, learning_curve.architecture])))

    searcher = StudySearcher(study, 3, on_curve=keep)
    configs = {trial_id: searcher.suggest(trial_id) for trial_id in "abc"}
    number_of = {(config["seed"], ModelSpec.from_dict(config["spec"]).architecture()): config["trial"]
                 for config in configs.values()}
    reports = train(searcher, "a", configs["a"])
    learning_curve, status_then = recorded[0]
    assert status_then == "running"  # the curve first: a kill between the two retrains it, and its key replaces it
    assert status_of(study, configs["a"]["trial"]) == "complete"
    architecture = ModelSpec.from_dict(configs["a"]["spec"]).architecture()
    assert learning_curve.training == f"{architecture}:seed0" and learning_curve.stage == SEARCH
    assert learning_curve.status == "complete" and learning_curve.architecture == architecture
    assert [epoch.accuracy for epoch in learning_curve.epochs] == [report["accuracy"] for report in reports]
    assert [epoch.loss for epoch in learning_curve.epochs] == [report["loss"] for report in reports]
    row = study.table().set_index("trial").loc[configs["a"]["trial"]]
    assert learning_curve.network == f"α={row['alpha']:.3f} β={row['beta']:.3f} γ={row['gamma']:.3f}"  # as the report names it
    # Stopped by a scheduler at its second epoch: that report reaches on_trial_complete alone, and is kept.
    train(searcher, "b", configs["b"], epochs=2, last_report_only_at_the_end=True)
    assert [epoch.epoch for epoch in recorded[1][0].epochs] == [1, 2] and recorded[1][0].status == "pruned"
    # A training that fails after an epoch keeps that epoch, marked failed, as the table does.
    searcher.on_trial_result("c", {"epoch": 1, "accuracy": 0.3, "loss": 2.0, "train_loss": 2.1})
    searcher.on_trial_complete("c", {"failed": "TrialFailed: loss became nan at epoch 2 step 1", "accuracy": 0.0,
                                     "epoch": 0})
    assert recorded[2][0].status == "failed" and [epoch.epoch for epoch in recorded[2][0].epochs] == [1]
    assert status_of(study, configs["c"]["trial"]) == "failed"


class Killed(BaseException):
    """What a SIGKILL right after the curve was written amounts to for this process: nothing after it runs."""


def test_a_training_retrained_after_a_kill_between_its_curve_and_its_record_leaves_one_curve_with_analytic_objective(
        tmp_path):
    study = make_study(tmp_path, sampler="random", trials=2, references=False)
    store = LearningCurves(tmp_path)

    def record_then_die(learning_curve):
        store.record(learning_curve)
        raise Killed

    searcher = StudySearcher(study, 2, on_curve=record_then_die)
    first = searcher.suggest("a")
    with pytest.raises(Killed):
        train(searcher, "a", first, epochs=2)
    assert status_of(study, first["trial"]) == "running"  # the journal never had the result
    assert len(read_learning_curves(tmp_path)) == 1
    # The resume: the trial in flight is queued again (the same network, the same seed) and trained again.
    resumed = make_study(tmp_path, resume=True, sampler="random", trials=2, references=False)
    kept = LearningCurves(tmp_path)
    searcher = StudySearcher(resumed, 3, on_curve=kept.record)
    again = searcher.suggest("a2")
    assert again["trial"] != first["trial"] and again["spec"] == first["spec"] and again["seed"] == first["seed"]
    train(searcher, "a2", again, epochs=3)  # a different length, so the two curves tell apart
    second = searcher.suggest("b")
    train(searcher, "b", second, epochs=3)
    curves = read_learning_curves(tmp_path)
    architecture = ModelSpec.from_dict(first["spec"]).architecture()
    mine = [c for c in curves if c.architecture == architecture and c.seed == first["seed"]]
    assert len(mine) == 1 and len(mine[0].epochs) == 3  # the retraining's curve, once
    assert len(curves) == 2


# ----- the heuristic --------------------------------------------------------------------------------------------

def test_still_rising_is_the_mean_over_seeds_of_each_seeds_last_epoch_gain_above_a_point_of_accuracy():
    rising = [curve("a", [0.30, 0.40, 0.43], seed=0), curve("a", [0.32, 0.41, 0.42], seed=1)]
    gain = last_epoch_gain(rising)
    assert gain.gain == pytest.approx((0.03 + 0.01) / 2) and gain.seeds == 2 and gain.last_epoch == 3
    assert gain.accuracy == pytest.approx(0.425) and gain.rising
    flat = last_epoch_gain([curve("a", [0.30, 0.40, 0.405]), curve("a", [0.3, 0.4, 0.41], seed=1)])
    assert flat.gain == pytest.approx(0.0075) and not flat.rising  # below RISING
    assert RISING == 0.01 and "0.01" in RULE and "on average over its seeds" in RULE
    # A failed or pruned training, or one epoch, says nothing of the last epoch's gain.
    assert last_epoch_gain([curve("a", [0.1, 0.9], status="failed"), curve("a", [0.2])]) is None
    assert last_epoch_gain([curve("a", [0.1, 0.9], status="pruned")]) is None
    assert not math.isnan(last_epoch_gain([curve("a", [0.1, 0.2]), curve("a", [0.1, float("nan")])]).gain)


# ----- the report -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The report tests' made-up run folder, with a learning curve for every completed training: the networks the
    verdict compares still rising (by 0.05 in the last epoch), every other network flat."""
    folder = tmp_path_factory.mktemp("learning")
    run_dir = make_run(folder / "run", demo_records(), space=write_tiny_space(folder))
    table = read_run(run_dir).table
    verdict = decide(table)
    compared = {verdict.winner.architecture, verdict.rival.architecture,
                *(c.network.architecture for c in verdict.comparisons if c.network is not None)}
    store = LearningCurves(run_dir)
    done = table[table["status"] == "complete"]
    for row in done.itertuples():
        last = 0.05 if row.architecture in compared else 0.002
        store.record(curve(f"{row.architecture}:seed{row.seed}", [row.accuracy - 0.2, row.accuracy - last, row.accuracy],
                           seed=int(row.seed), architecture=row.architecture, network="stored name"))
    return run_dir, verdict, compared, write_report(run_dir).read_text()  # measuring its B0–B7 takes a moment


def sections(run_dir):
    """The Learning curves section's HTML and its figure."""
    figures = []

    def plot(figure, div_id, missing_text):
        figures.append(figure)
        return f"<div id={div_id}></div>"

    run = read_run(run_dir)
    verdict = decide(run.table, run.tie_break, run.looks)
    return learning_section(run, verdict, plot), figures[0] if figures else None


def test_the_report_shows_each_networks_seeds_together_and_says_plainly_the_compared_networks_still_rise(demo_run):
    run_dir, verdict, compared, page = demo_run
    html, figure = sections(run_dir)
    winner = verdict.winner
    lines = [trace for trace in figure.data if trace.meta == f"winner: {winner.name}"]
    assert len(lines) == 2 * winner.accuracy.n  # its seeds, one line each, in the accuracy and the loss panel
    assert sum(trace.showlegend for trace in lines) == 1  # one legend entry shows or hides them together
    assert all(trace.visible is True for trace in lines)
    by_name = {network.name: network for network in networks(read_run(run_dir).table)}
    for trace in figure.data:
        network = by_name[trace.meta.split(": ", 1)[-1]]  # named as the report names networks, not as stored
        shown = network.architecture in compared  # the others are in the legend, a click away
        assert trace.visible == (True if shown else "legendonly")
    assert {trace.meta.split(": ", 1)[-1] for trace in figure.data} == set(by_name)  # every network with a curve
    assert "still learning" in html and f"the winner {winner.name} rose by +0.050" in html
    assert f"the rival {verdict.rival.name} rose by +0.050" in html
    assert "This is a heuristic: " + RULE in html
    assert '<section id="learning">' in page and 'class="warn still-learning"' in page  # the summary says it too
    assert 'id="fig-learning-curves"' in page


def test_flat_curves_say_the_heuristic_found_nothing_and_an_old_run_folder_without_the_file_still_reports(
        demo_run, tmp_path):
    run_dir, *_ = demo_run
    flat = tmp_path / "flat"
    make_run(flat, demo_records(), space=write_tiny_space(tmp_path))
    store = LearningCurves(flat)
    for learning_curve in read_learning_curves(run_dir):
        epochs = learning_curve.epochs
        store.record(LearningCurve(**{**learning_curve.__dict__, "epochs": (
            epochs[0], epochs[1], EpochMetrics(3, epochs[1].accuracy + 0.001, epochs[2].loss))}))
    html, _ = sections(flat)
    assert "still learning" not in html
    assert "None of the networks the verdict compares was still rising at its last epoch, by a heuristic" in html
    old = tmp_path / "old"
    make_run(old, demo_records(), space=write_tiny_space(tmp_path))
    html, figure = sections(old)
    assert figure is None and f"This run folder has no {LEARNING_CURVES_FILE}" in html
    page = write_report(old).read_text()  # scalesearch report on a run from before the file was kept
    assert '<section id="learning">' in page and "still-learning" not in page


# ----- TensorBoard -----------------------------------------------------------------------------------------------

def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of one TensorBoard run, by tag, read by TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


@pytest.mark.slow  # torch.utils.tensorboard takes ~2 s to import
def test_a_curve_is_one_tensorboard_run_named_by_network_and_seed_and_a_retrained_one_replaces_it(tmp_path):
    from scalesearch.runs.tensorboard_events import TensorBoardRuns, run_name

    board = TensorBoardRuns(tmp_path / "tb")
    first = curve("x:seed1", [0.25, 0.5], seed=1, network="resolution-only (α=1.000 β=1.000 γ=1.882)")
    assert run_name(first) == "search/resolution-only_a1.000_b1.000_g1.882/seed1"
    folder = board.write(first)
    assert folder == tmp_path / "tb" / "search" / "resolution-only_a1.000_b1.000_g1.882" / "seed1"
    read = scalars(folder)
    assert set(read) == {"validation/accuracy", "validation/loss", "train/loss", "epoch/seconds"}
    assert read["validation/accuracy"] == [(1, pytest.approx(0.25)), (2, pytest.approx(0.5))]
    assert read["validation/loss"] == [(1, pytest.approx(0.75)), (2, pytest.approx(0.5))]
    board.write(curve("x:seed1", [0.3, 0.6, 0.7], seed=1, network=first.network))  # trained again after a kill
    assert len(list(folder.iterdir())) == 1  # one event file: the first training's points are gone
    assert [step for step, _ in scalars(folder)["validation/accuracy"]] == [1, 2, 3]
    other = curve("y:seed0", [0.1, 0.2], network="base at φ=0", stage="curve")
    assert board.write_missing([first, other]) == 1  # only what the folder lacks
    assert run_name(other) == "curve/base_at_phi0/seed0" and (tmp_path / "tb" / "curve" / "base_at_phi0" / "seed0").is_dir()
    assert not [path for path in (tmp_path / "tb").rglob("*.tmp")]


def test_tensorboard_without_its_package_or_into_a_file_is_one_line_exit_2_before_any_work(tmp_path, monkeypatch,
                                                                                           capsys):
    run = ["run", "--budget", "2x", "--objective", "analytic", "--out", str(tmp_path / "run")]
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as where it is not installed: its import fails
    assert main([*run, "--tensorboard", str(tmp_path / "tb")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--tensorboard needs the tensorboard package" in error
    assert "pip install 'scalesearch[tensorboard]'" in error
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
    monkeypatch.undo()
    (tmp_path / "a-file").write_text("")
    assert main([*run, "--tensorboard", str(tmp_path / "a-file")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is a file, not a folder" in error and not (tmp_path / "run").exists()


# ----- a real run ------------------------------------------------------------------------------------------------

@pytest.mark.slow  # a real local Ray, twice: a search with its curve stage, then a check
def test_a_run_keeps_every_trainings_curve_in_every_stage_and_tensorboard_one_run_each_with_analytic_objective(
        tmp_path):
    import scalesearch
    from scalesearch.pipeline.check import check
    from scalesearch.runs.tensorboard_events import run_name

    board = tmp_path / "tb"
    outcome = scalesearch.search(budget="2x", out=str(tmp_path / "run"), objective="analytic", trials=2, seeds=2,
                                 confirm=1, curve=True, tensorboard=str(board),
                                 objective_settings={"epochs": 3, "seed_noise": 0.02})
    assert outcome.succeeded
    check(outcome.run_dir, epochs_factor=2)  # the run's --tensorboard is in its config.yaml: the check's go there too
    run_dir = Path(outcome.run_dir)
    curves = read_learning_curves(run_dir)
    assert len({c.identity for c in curves}) == len(curves)  # no training twice
    # The search: every training of the table (explore and confirm; a duplicate trains nothing), its last epoch the
    # table's accuracy.
    table = pd.read_csv(run_dir / "trials.csv")
    trained = table[table["status"] == "complete"]
    search = {(c.architecture, c.seed): c for c in curves if c.stage == SEARCH}
    assert set(search) == set(zip(trained["architecture"], trained["seed"]))
    for row in trained.itertuples():
        epochs = search[row.architecture, row.seed].epochs
        assert [epoch.epoch for epoch in epochs] == [1, 2, 3]
        assert epochs[-1].accuracy == pytest.approx(row.accuracy) and epochs[0].accuracy < epochs[-1].accuracy
    # The curve stage (φ = 1 is the search's, not trained again) and the check, by their tables' keys.
    curve_table = pd.read_csv(run_dir / "curve.csv")
    assert {c.training for c in curves if c.stage == "curve"} == set(curve_table[curve_table["from_trial"].isna()]["key"])
    check_table = pd.read_csv(run_dir / "check.csv")
    checked = [c for c in curves if c.stage == "check"]
    assert {c.training for c in checked} == set(check_table["key"]) and all(len(c.epochs) == 6 for c in checked)
    # TensorBoard: one run per training, named by stage, network and seed; its points are the file's.
    runs = {path.parent.relative_to(board).as_posix() for path in board.rglob("events.out.tfevents.*")}
    assert runs == {run_name(c) for c in curves} and len(runs) == len(curves)
    for learning_curve in curves:
        read = scalars(board / run_name(learning_curve))["validation/accuracy"]
        assert read == [(epoch.epoch, pytest.approx(epoch.accuracy, abs=1e-6)) for epoch in learning_curve.epochs]
    page = (run_dir / "report.html").read_text()
    assert 'id="fig-learning-curves"' in page and '<section id="learning">' in page
