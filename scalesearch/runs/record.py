"""run.json: a run's description (its options, the proxy base, provenance and status) as one typed record,
``RunRecord``, with its reader and writer. The pipeline writes it; the report, the export and the progress
line read it; nothing else knows its keys.

Every field may be absent: a file written before a field existed, or by a run killed before it finished,
loads with that field None (``from_json`` fills the defaults). A file of another format, or of a newer
version than this code knows, is refused with a one-line ``InputError``."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.atomic import write_atomically
from scalesearch.foundation.status import RunStatus
from scalesearch.foundation.run_files import RUN_FILE

FORMAT = "scalesearch.run"
VERSION = 1


@dataclass
class ProxyBase:
    """The φ=0 network the proxies scale from, and what it costs."""

    width: float | None = None
    depth: float | None = None
    resolution: int | None = None
    flops: int | None = None
    params: int | None = None
    activations: int | None = None

    @classmethod
    def from_json(cls, data) -> ProxyBase | None:
        if not isinstance(data, dict):
            return None
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})


@dataclass
class RunRecord:
    """What run.json holds. Free-form provenance (preset, proxy settings, versions, machine, grid) stays a dict:
    it is shown, never computed with."""

    name: str | None = None
    status: RunStatus | str | None = None  # a RunStatus; an unknown word from a hand-edited file is kept as is
    command: str | None = None
    space: str | None = None
    budget: float | None = None
    tolerance: float | None = None
    constraint: str | None = None
    sampler: str | None = None
    trials: int | None = None
    seed: int | None = None
    seeds: int | None = None  # the confirm stage's fixed seeds
    max_seeds: int | None = None  # with --seeds auto: the most seeds a network may get; None: seeds were fixed
    confirm: int | None = None
    tie_break: str | None = None
    allow_shrink: bool | None = None
    num_classes: int | None = None
    device: str | None = None
    proxy_base: ProxyBase | None = None
    data: str | None = None
    preset: dict | None = None
    objective: str | None = None
    proxy: dict | None = None
    started: str | None = None
    resumed: bool | None = None
    versions: dict | None = None
    machine: dict | None = None
    grid: dict | None = None
    max_trainings: int | None = None
    references: int | None = None
    max_confirm: int | None = None
    corner_neighbours: int | None = None  # the most compounds the corner check can add (study/corner.py); 0: off
    rungs: list | None = None  # --fidelity halving: [epochs, at most how many networks] of each rung; None: full
    finished: str | None = None
    wall_seconds: float | None = None
    resolution_multiple: int | None = None  # not written by the pipeline; read by the export when a file has it
    version: int = field(default=VERSION)

    def to_json(self) -> dict:
        data = {"format": FORMAT, "version": VERSION}
        for f in dataclasses.fields(self):
            if f.name == "version":
                continue
            value = getattr(self, f.name)
            if isinstance(value, ProxyBase):
                value = dataclasses.asdict(value)
            elif isinstance(value, RunStatus):
                value = value.value
            if value is not None or f.name not in ("finished", "wall_seconds", "resolution_multiple"):
                data[f.name] = value
        return data

    @classmethod
    def from_json(cls, data, source: str = RUN_FILE) -> RunRecord:
        """A record from run.json's object; absent keys get their defaults (None), unknown keys are ignored."""
        if not isinstance(data, dict) or data.get("format", FORMAT) != FORMAT:
            raise InputError(f"{source} is not a scalesearch run description")
        version = data.get("version", VERSION)
        if not isinstance(version, int) or version > VERSION:
            raise InputError(f"{source} is of version {version}, newer than this scalesearch reads ({VERSION}); "
                             "upgrade scalesearch")
        values = {f.name: data.get(f.name) for f in dataclasses.fields(cls) if f.name != "version"}
        values["proxy_base"] = ProxyBase.from_json(values["proxy_base"])
        values["status"] = _status(values["status"])
        for name in ("preset", "proxy", "versions", "machine", "grid"):
            if not isinstance(values[name], dict):
                values[name] = None
        return cls(**values, version=version)


def _status(value):
    try:
        return RunStatus(value) if value is not None else None
    except ValueError:
        return value


def write_run_file(folder: str | Path, record: RunRecord | dict) -> None:
    """run.json, whole or not at all. A dict is read as a record first (what a test or an older caller holds)."""
    if isinstance(record, dict):
        record = RunRecord.from_json(record)
    write_atomically(Path(folder) / RUN_FILE, json.dumps(record.to_json(), indent=2, default=str) + "\n")


def read_run_file(folder: str | Path) -> RunRecord | None:
    """The run's record; None when there is no run.json (killed before it was first written). A damaged or
    foreign file is an InputError that says what to do (a resume writes it anew)."""
    path = Path(folder) / RUN_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path} is damaged ({type(error).__name__}); delete it and resume again: it is written anew "
                         "from config.yaml and study.journal, which keep the run (its start time is lost)") from None
    try:
        return RunRecord.from_json(data, str(path))
    except InputError as error:
        raise InputError(f"{error}; delete it and resume again") from None
