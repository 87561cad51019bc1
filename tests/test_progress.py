"""The progress display over a real (Ray-free) study: log lines off a terminal, one rewritten line on it."""
import io

from scalesearch.cli.progress import Progress
from tests.helpers import make_study

INFO = {"space": "tiny", "budget": 2.0, "constraint": "formula", "sampler": "tpe", "device": "cpu", "trials": 2,
        "max_trainings": 2, "references": 0, "max_confirm": 0, "seeds": 1, "confirm": 3,
        "data": "none", "preset": {"name": "cpu-tiny"},
        "proxy_base": {"width": 1.0, "depth": 1.0, "resolution": 32}, "proxy": {"epochs": 1, "batch_size": 8}}


def _show_one_trial(tmp_path, live: bool) -> str:
    study = make_study(tmp_path, trials=2, references=False)
    stream = io.StringIO()
    progress = Progress(stream=stream, live=live)
    progress.begin(INFO, study)
    proposal = study.propose()
    progress.event("started", proposal.trial)
    study.complete(proposal.trial, {"accuracy": 0.5})
    progress.event("finished", proposal.trial)
    progress.end()
    return stream.getvalue()


def test_live_progress_rewrites_one_line_and_ends_it_before_the_summary(tmp_path):
    text = _show_one_trial(tmp_path, live=True)
    assert "data: none\n" in text
    status = text.split("data: none\n", 1)[1]
    assert status.count("\r\033[K") == 2 and "explore: trainings 1/≤2 done, 0 in flight" in status
    assert text.endswith("\n")  # else the run's summary would be printed onto the status line


def test_progress_off_a_terminal_writes_a_line_per_event(tmp_path):
    text = _show_one_trial(tmp_path, live=False)
    assert "\r" not in text
    assert "trial 0 complete: accuracy 0.500" in text and text.endswith("left\n")
    assert ", best mean 0.500 (α=" in text
    assert "at most 2 trainings on cpu: 0 references and 2 searched candidates" in text
    assert "first training took 0 s: at most 2 trainings on about 1 slot(s) should take about 0:00 in all" in text
