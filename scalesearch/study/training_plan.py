"""The most trainings a run can do, by what each is for: the study bounds its proposals by the total, and run.json
and the opening line say the parts. Pure."""
from __future__ import annotations

from dataclasses import dataclass

from scalesearch.study import corner, halving
from scalesearch.study.auto_seeds import max_extension_trainings
from scalesearch.study.confirm import max_confirm_trainings


@dataclass(frozen=True)
class TrainingPlan:
    references: int  # one explore training each
    searched: int  # --trials
    rungs: int  # --fidelity halving: the trainings at its later rungs, and the references' at its first
    neighbours: int  # the corner check's compounds (study/corner.py)
    confirm: int  # the confirm stage's paired seeds, --seeds auto's further rounds included (racing trains fewer)

    @property
    def total(self) -> int:
        return self.references + self.searched + self.rungs + self.neighbours + self.confirm


def training_plan(settings, references: int, compared: int) -> TrainingPlan:
    """The plan of a run under ``settings`` (a SearchSettings) with ``references`` references, ``compared`` of which
    the confirm stage judges again."""
    return TrainingPlan(
        references=references, searched=settings.trials,
        rungs=halving.extra_trainings(settings.trials, settings.rungs, settings.reduction, settings.confirm, references),
        neighbours=corner.added_trainings(settings),
        confirm=(max_confirm_trainings(compared, seeds=settings.seeds, top=settings.confirm)
                 + max_extension_trainings(settings.seeds, settings.max_seeds)))
