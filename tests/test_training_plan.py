"""The most trainings a run can do, by part (study/training_plan.py): what the study bounds its proposals by and what
the opening line says."""
from scalesearch.study.settings import SearchSettings
from scalesearch.study.training_plan import training_plan


def test_the_default_runs_plan_counts_each_part_once():
    settings = SearchSettings(budget=2.0, trials=10, seeds=3, max_seeds=8, confirm=3, corner_check=True)
    plan = training_plan(settings, references=6, compared=5)
    # confirm: 3 seeds for the 3 leaders and the 5 compared references; then 5 further rounds of at most 4 networks
    assert (plan.references, plan.searched, plan.rungs, plan.neighbours, plan.confirm) == (6, 10, 0, 2, 3 * 8 + 5 * 4)
    assert plan.total == 6 + 10 + 2 + 44


def test_one_seed_has_no_confirm_stage_and_the_check_off_adds_no_neighbour():
    plan = training_plan(SearchSettings(budget=2.0, trials=7, seeds=1), references=4, compared=3)
    assert (plan.confirm, plan.neighbours, plan.total) == (0, 0, 4 + 7)


def test_halving_adds_its_later_rungs_and_the_references_first_rung():
    full = training_plan(SearchSettings(budget=2.0, trials=9, seeds=3, confirm=2), references=6, compared=5)
    halving = training_plan(SearchSettings(budget=2.0, trials=9, seeds=3, confirm=2, rungs=(1, 3)), references=6,
                            compared=5)
    assert full.rungs == 0 and halving.rungs > 6  # at least the references' short trainings and one promotion
    assert halving.total - full.total == halving.rungs
