"""Live progress of a run: one rewritten status line on a terminal, plain log lines otherwise."""
from __future__ import annotations

import sys
import time

from scalesearch.runs.record import RunRecord
from scalesearch.foundation.status import ATTEMPTED, TrialStatus
from scalesearch.runs.winner import pick_winner


# A trial lost with its Ray node (pipeline/study_searcher.train_again), as the progress says it.
LOST = "lost with its Ray node: training it again on another"

class Progress:
    def __init__(self, stream=None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.started = time.time()
        self.study = None
        self.total = 0  # the most trainings the run can do (racing usually saves some of the confirm stage's)
        self.estimated = False

    def begin(self, record: RunRecord | dict, study) -> None:
        """The run's opening lines, from the record the pipeline just wrote (a dict is read as run.json is)."""
        if isinstance(record, dict):
            record = RunRecord.from_json(record)
        self.study, self.total = study, record.max_trainings
        preset, base, proxy = record.preset, record.proxy_base, record.proxy
        references, searched = f"{record.references} references", f"{record.trials} searched candidates"
        if record.rungs:  # --fidelity halving: how many at which length
            (epochs, _), *higher = record.rungs
            if record.references:
                references += f" (each also at {epochs} epoch(s), for the rungs' rank agreement)"
            searched += f" at {epochs} epoch(s)" + "".join(f", up to {networks} of them again at {length}"
                                                           for length, networks in higher) + " (--fidelity halving)"
        if record.corner_neighbours:
            searched += f" (and {record.corner_neighbours} compounds next to a single dimension, if one leads)"
        self._say(f"{record.space} at {record.budget:g}x ({record.constraint} constraint), sampler {record.sampler}, "
                  f"at most {self.total} trainings on {record.device}: {references} and "
                  f"{searched}, then up to {record.max_confirm} more seeds to confirm "
                  f"(--seeds {_seeds(record)}, --confirm {record.confirm})")
        self._say(f"preset {preset['name']}: proxy base at width {base.width:g}, depth {base.depth:g}, "
                  f"{base.resolution} px; {proxy['epochs']} epochs, batch {proxy['batch_size']}; data: {record.data}")
        grid = record.grid
        if grid:
            distinct = f", building {grid['distinct']} distinct networks" if grid.get("distinct") else ""
            self._say(f"grid: {grid['points']} points, {grid['candidates']} on budget before measuring{distinct}")

    def event(self, kind: str, trial: int) -> None:
        table = self.study.table()
        trained = table[table["status"].isin(ATTEMPTED)]
        running = int((table["status"] == TrialStatus.RUNNING).sum())
        # The best mean so far: the tie-break's pick waits for the run's end, when the tied are timed alone.
        best = pick_winner(table, tie_break="none")
        confirming = (table["stage"] == "confirm").any()
        elapsed = time.time() - self.started
        done = len(trained)
        eta = elapsed / done * (self.total - done) if done else float("nan")
        if done and not self.estimated and not self.live:
            self.estimated = True
            seconds = float(trained["train_seconds"].fillna(0).iloc[0])
            slots = max(1, running)  # what else is in flight as the first finishes
            estimate = elapsed + seconds * (self.total - done) / slots
            self._say(f"first training took {seconds:.0f} s: at most {self.total} trainings on about {slots} slot(s) "
                      f"should take about {_clock(estimate)} in all (fewer if racing drops networks)")
        # Ray Tune takes one trial more than it has slots (it waits as pending): "in flight", not "running".
        text = f"[{_clock(elapsed)}] {'confirm' if confirming else 'explore'}: trainings {done}/≤{self.total} done, {running} in flight"
        if best is not None:
            text += f", best mean {best['accuracy']:.3f} (α={best['alpha']:.2f} β={best['beta']:.2f} γ={best['gamma']:.2f})"
        if done:
            text += f", ~{_clock(eta)} left"
        if not self.live:
            row = table.set_index("trial").loc[trial]
            detail = f"trial {trial} {row['status']}"
            if kind == "lost":
                detail = f"trial {trial} {LOST}"
            elif kind == "finished" and row["status"] == TrialStatus.COMPLETE:
                detail += f": accuracy {row['accuracy']:.3f}, {row['flops_ratio']:.2f}x FLOPs"
            elif kind == "finished" and row["status"] == TrialStatus.FAILED:
                detail += f": {row['reason']}"
            text = f"{detail} | {text}"
        self._line(text)

    def begin_stage(self, name: str, stage, description: str) -> None:
        """A stage after the search (the curve, the fidelity check): a fixed list of trainings."""
        self.end()
        self.stage_name, self.stage, self.stage_started = name, stage, time.time()
        self._say(f"{name}: {description}")

    def stage_event(self, kind: str, number: int) -> None:
        table = self.stage.table()
        finished = table[table["status"] != "planned"]
        planned = self.stage.plan[number]
        text = f"[{_clock(time.time() - self.stage_started)}] {self.stage_name}: {len(finished)}/{len(table)} done"
        if not self.live:
            row = table[table["key"] == planned.key].iloc[0]
            name = f"{planned.labels['network']}, φ={planned.labels['phi']}" if "phi" in planned.labels else planned.labels.get("network", planned.key)
            said = {"started": "started", "lost": LOST}
            detail = f"{name}, seed {planned.seed}: {said.get(kind, row['status'])}"
            if row["status"] == "complete":
                detail += f": accuracy {row['accuracy']:.3f}"
            elif row["status"] == "failed":
                detail += f": {row['reason']}"
            text = f"{detail} | {text}"
        self._line(text)

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _line(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.live:  # end the rewritten status line before anything else is printed
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if seconds != seconds:
        return "?"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def _seeds(record: RunRecord) -> str:
    return f"auto up to {record.max_seeds}" if record.max_seeds else str(record.seeds)
