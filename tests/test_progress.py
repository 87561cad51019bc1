"""The progress display over a real (Ray-free) study: log lines off a terminal, one rewritten line on it.

The display's clock is a stand-in that the test moves (nothing sleeps, and a loaded machine cannot change a figure);
the lines are checked by their figures, in order, so a rewording keeps the tests green and a wrong figure does not.
"""
import io
import types

import pytest

from scalesearch.cli import progress as progress_module
from scalesearch.cli.progress import Progress
from tests.helpers import make_study
from tests.text_figures import figures

INFO = {"space": "tiny", "budget": 2.0, "constraint": "formula", "sampler": "tpe", "device": "cpu", "trials": 2,
        "max_trainings": 2, "references": 0, "max_confirm": 0, "seeds": 1, "confirm": 3,
        "data": "none", "preset": {"name": "cpu-tiny"},
        "proxy_base": {"width": 1.0, "depth": 1.0, "resolution": 32}, "proxy": {"epochs": 1, "batch_size": 8}}
# The one trial starts as the display does and finishes 75 s later, having trained for 70 s of them.
STARTED, FINISHED_AFTER, TRAIN_SECONDS = 1000.0, 75.0, 70.0
# The opening lines: the budget, the most trainings, references, searched candidates, seeds to confirm, --seeds,
# --confirm; then the proxy base's width, depth and pixels, its epochs and batch.
OPENING = [["2", "2", "0", "2", "0", "1", "3"], ["1", "1", "32", "1", "8"]]


@pytest.fixture
def clock(monkeypatch):
    """The display's wall clock, set by the test (only progress.py's view of the time module is replaced)."""
    now = types.SimpleNamespace(seconds=STARTED)
    monkeypatch.setattr(progress_module, "time", types.SimpleNamespace(time=lambda: now.seconds))
    return now


def _show_one_trial(tmp_path, clock, live: bool) -> tuple[str, dict]:
    """The display's text for one trial started and finished, and that trial's row."""
    study = make_study(tmp_path, trials=2, references=False)
    stream = io.StringIO()
    progress = Progress(stream=stream, live=live)
    progress.begin(INFO, study)
    proposal = study.propose()
    progress.event("started", proposal.trial)
    clock.seconds += FINISHED_AFTER
    study.complete(proposal.trial, {"accuracy": 0.5, "train_seconds": TRAIN_SECONDS})
    progress.event("finished", proposal.trial)
    progress.end()
    return stream.getvalue(), study.table().set_index("trial").loc[proposal.trial].to_dict()


def _best(row) -> list[str]:
    return ["0.500", f"{row['alpha']:.2f}", f"{row['beta']:.2f}", f"{row['gamma']:.2f}"]


def test_progress_off_a_terminal_writes_a_line_per_event_with_its_figures_in_order(tmp_path, clock):
    text, row = _show_one_trial(tmp_path, clock, live=False)
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert [figures(line) for line in lines[:2]] == OPENING
    assert "cpu" in lines[0] and "cpu-tiny" in lines[1] and lines[1].endswith("none")  # device, preset, data
    # trial 0, at 0:00: 0 of at most 2 trainings done, 1 in flight.
    assert figures(lines[2]) == ["0", "0:00", "0", "2", "1"]
    # The first training's 70 s, the most trainings, 1 slot; 75 s gone + 70 s for the one left = 2:25 in all.
    assert figures(lines[3]) == ["70", "2", "1", "2:25"]
    # trial 0: its accuracy and FLOPs ratio; at 1:15, 1 of 2 done, 0 in flight, the best mean and its α β γ; 75 s
    # a training, one to go: 1:15 left.
    assert figures(lines[4]) == ["0", "0.500", f"{row['flops_ratio']:.2f}", "1:15", "1", "2", "0", *_best(row), "1:15"]
    assert len(lines) == 5


def test_live_progress_rewrites_one_line_and_ends_it_before_the_summary(tmp_path, clock):
    text, row = _show_one_trial(tmp_path, clock, live=True)
    opening, status = text.split("\r\033[K", 1)
    assert [figures(line) for line in opening.splitlines()] == OPENING
    rewrites = status.split("\r\033[K")  # each event erases the line and writes its own on it, no newline between
    assert len(rewrites) == 2 and "\n" not in rewrites[0]
    assert figures(rewrites[0]) == ["0:00", "0", "2", "1"]
    assert figures(rewrites[1]) == ["1:15", "1", "2", "0", *_best(row), "1:15"]
    assert text.endswith("\n")  # else the run's summary would be printed onto the status line


def test_the_opening_line_says_how_many_compounds_the_corner_check_can_add(tmp_path):
    study = make_study(tmp_path, trials=2, references=False)
    stream = io.StringIO()
    Progress(stream=stream, live=False).begin({**INFO, "max_trainings": 4, "corner_neighbours": 2}, study)
    first = stream.getvalue().splitlines()[0]
    # the budget, the most trainings, references, searched candidates, the check's compounds, seeds to confirm, ...
    assert figures(first) == ["2", "4", "0", "2", "2", "0", "1", "3"] and "single dimension" in first
