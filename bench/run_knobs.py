"""The run options a replay bench may change from a default run's (bench_calibration, bench_replay): one owner of
their arguments, their defaults and the search settings they make."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, fields

from scalesearch.cost.measure import measure
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.pipeline.options import RunOptions, check_seeds
from scalesearch.pipeline.prepare import search_settings_of
from scalesearch.study.settings import SearchSettings
from scalesearch.training.presets import PRESETS
from scalesearch.verdict.verdict import TIE_BREAKS

NUM_CLASSES = 10
PRESET = "cpu-tiny"


@dataclass(frozen=True)
class RunKnobs:
    """Each field is the RunOptions field of its name; None: the default run's value (RunOptions and the cpu-tiny
    preset)."""

    seeds: str | None = None
    max_seeds: int | None = None
    trials: int | None = None
    confirm: int | None = None
    corner_check: bool | None = None
    tie_break: str | None = None
    references: bool | None = None

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        run = parser.add_argument_group("the replayed run's options (default: a default run's)")
        run.add_argument("--seeds", default=None, help="the run's --seeds, a number or auto")
        run.add_argument("--max-seeds", type=int, default=None, help="the run's --max-seeds (with --seeds auto)")
        run.add_argument("--trials", type=int, default=None, help="the run's --trials: searched candidates to train")
        run.add_argument("--confirm", type=int, default=None, help="the run's --confirm: explore leaders confirmed")
        run.add_argument("--corner-check", choices=("on", "off"), default=None,
                         help="the run's corner check (study/corner.py)")
        run.add_argument("--tie-break", default=None, choices=TIE_BREAKS, help="the run's --tie-break")
        run.add_argument("--references", choices=("on", "off"), default=None,
                         help="off: the run's --no-reference (no reference trained: the search alone)")

    @classmethod
    def from_arguments(cls, arguments: argparse.Namespace) -> "RunKnobs":
        return cls(arguments.seeds, arguments.max_seeds, arguments.trials, arguments.confirm,
                   _switch(arguments.corner_check), arguments.tie_break, _switch(arguments.references))

    def describe(self) -> str:
        """The knobs changed from the default run's, as its options ("the default run" where none is)."""
        changed = [f"--{field.name.replace('_', '-')} {_shown(getattr(self, field.name))}" for field in fields(self)
                   if getattr(self, field.name) is not None]
        return "run " + " ".join(changed) if changed else "the default run"

    def settings(self, seed: int) -> SearchSettings:
        """The default run's search settings with these knobs, its sampler seeded with ``seed``: made by the run's
        own code (pipeline/prepare.search_settings_of) from its options."""
        changed = {field.name: getattr(self, field.name) for field in fields(self)
                   if getattr(self, field.name) is not None}
        options = dataclasses.replace(RunOptions(seed=seed), **changed)
        check_seeds(options)
        return search_settings_of(options, PRESETS[PRESET], NUM_CLASSES)


def proxy_setup():
    """The default run's base network (efficientnet_b0 on the preset's proxy) and its measured FLOPs."""
    preset = PRESETS[PRESET]
    base = proxy_base(load_space("efficientnet_b0"), preset.base_width, preset.base_depth, preset.base_resolution)
    return base, measure(scale(base), NUM_CLASSES, counter="arithmetic").flops


def _switch(value: str | None) -> bool | None:
    return None if value is None else value == "on"


def _shown(value) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)
