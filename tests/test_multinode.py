"""A real multi-node Ray cluster on one machine (issue 22 §4): a head with no CPUs of its own, so that every trial runs
on another node than the driver's, and two nodes of one CPU each, each a `ray start` of its own (tests/ray_cluster.py).
`scalesearch run --address` runs against it as a user types it; the test kills one node mid-run, then the driver.

The objective is the analytic stand-in, slowed to seconds per epoch so that a kill lands inside a training."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.ray_cluster import RayHead, RayNode, descendants

pytestmark = pytest.mark.slow  # a real three-node cluster and three runs

ROOT = Path(__file__).resolve().parents[1]
# Ten trainings: enough that a node has finished one and started another well before the run ends, even when the
# planted crash takes one node's first (a loaded machine restarts its trial process slowly).
TRIALS = 10
OPTIONS = ("--budget", "2x", "--constraint", "formula", "--sampler", "random", "--trials", str(TRIALS),
           "--no-reference", "--seeds", "1")


def _env():
    return {name: value for name, value in os.environ.items()
            if name != "RAY_ADDRESS" and not name.startswith("RAY_AUTH")}


def _config(folder: Path, log: Path, faults: dict | None = None) -> Path:
    settings = {"seconds_per_epoch": 1.5, "epochs": 2, "training_log": str(log), "faults": faults or {}}
    path = folder / f"{log.stem}.yaml"
    path.write_text(json.dumps({"objective": "analytic", "objective_settings": settings}))  # JSON is YAML
    return path


def _start(*args, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "scalesearch.cli.main", "run", *args]
    return subprocess.Popen(command, stdout=out.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, env=_env(),
                            start_new_session=True)


def _events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def _wait(condition, process: subprocess.Popen, seconds: float = 240, said=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the run ended before the moment the test waited for: {said()}"
        assert time.monotonic() < deadline, "the moment the test waited for never came"
        time.sleep(0.1)


def _key(event: dict) -> tuple:
    return event["architecture"], event["seed"]


def test_a_run_on_a_two_node_cluster_uses_both_loses_one_without_losing_a_training_and_resumes_after_its_driver_dies(
        tmp_path):
    with RayHead(num_cpus=0) as head, RayNode(head) as first, RayNode(head) as second:
        # ----- a node lost mid-run: its training runs again on the other; a crash's account reaches the driver
        folder, log = tmp_path / "run", tmp_path / "trainings.jsonl"
        run = _start(*OPTIONS, "--config", str(_config(tmp_path, log, faults={2: "killed"})), "--out", str(folder),
                     "--address", head.address, out=tmp_path / "run.out")
        on_node: dict[RayNode, set[int]] = {first: set(), second: set()}  # trial pids, as seen while it lives
        lost: list[RayNode] = []

        def a_node_has_finished_one_and_started_another() -> bool:
            """Whichever node first holds a training in flight that started after one of its own ended (in the same,
            reused trial process: the ended one's result went out before): that node is the one to lose. In flight:
            its last event is a start whose process lives. The planted crash's start is the last event of a process
            that died by itself, and on a loaded machine its node restarts the trial process slowly: a node lost
            then would cut no training (seen once in a full run beside two benchmarks)."""
            events = _events(log)
            for node, pids in on_node.items():
                living = {process.pid for process in descendants(node.process.pid)}
                pids.update(living)
                mine = [event for event in events if event["pid"] in pids]
                ended = [index for index, event in enumerate(mine) if event["event"] == "end"]
                if ended and mine[-1]["event"] == "start" and mine[-1]["pid"] in living and len(mine) > ended[0] + 1:
                    lost.append(node)
                    return True
            return False

        _wait(a_node_has_finished_one_and_started_another, run,
              said=lambda: f"pids {[sorted(p) for p in on_node.values()]}; log {[(e['event'], e['pid']) for e in _events(log)]}")
        victim = lost[0]
        victim.kill()
        on_victim = on_node[victim]
        cut = [event for event in _events(log) if event["pid"] in on_victim][-1]
        assert cut["event"] == "start"
        assert run.wait(timeout=300) == 0, (tmp_path / "run.out").read_text()[-3000:]
        said = (tmp_path / "run.out").read_text()
        assert "lost with its Ray node: training it again on another" in said

        table = pd.read_csv(folder / "trials.csv")
        trained = table[table["status"].isin(["complete", "failed"])]
        assert len(trained) == TRIALS and (trained["stage"] == "explore").all()
        complete = trained[trained["status"] == "complete"]
        nodes = set(complete["node"])
        assert len(nodes) == 2 and all(re.fullmatch(r"[\d.]+/[0-9a-f]{8}", node) for node in nodes), nodes
        assert {node.split("/")[1] for node in nodes} == {first.node_id[:8], second.node_id[:8]}
        # The cut training ran again, to its end, on the node that lived; no other training ran twice.
        events = _events(log)
        starts = Counter(_key(event) for event in events if event["event"] == "start")
        assert starts[_key(cut)] == 2 and all(count == 1 for key, count in starts.items() if key != _key(cut))
        assert any(_key(event) == _key(cut) and event["event"] == "end" and event["pid"] not in on_victim
                   for event in events)
        # The planted crash (the second training's process SIGKILLed, its node alive): a failed row, not trained
        # again, whose reason names Tune's account of it, which is in the run folder on the driver.
        failed = trained[trained["status"] == "failed"]
        assert len(failed) == 1, trained[["status", "reason"]]
        reason = failed["reason"].iloc[0]
        assert "died without raising an error" in reason, reason
        account = re.search(r"Ray's account: (\S+)$", reason).group(1)
        assert (folder / account).is_file()

        # ----- the driver killed mid-run: --resume against the same cluster finishes it, training nothing twice
        folder, log = tmp_path / "killed", tmp_path / "resumed.jsonl"
        jobs = head.jobs()
        run = _start(*OPTIONS, "--config", str(_config(tmp_path, log)), "--out", str(folder), "--address",
                     head.address, out=tmp_path / "killed.out")
        _wait(lambda: sum(event["event"] == "end" for event in _events(log)) >= 2, run)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        ended_before = {_key(event) for event in _events(log) if event["event"] == "end"}
        resumed = _start("--resume", str(folder), out=tmp_path / "resumed.out")  # the address is the run's own
        assert resumed.wait(timeout=300) == 0, (tmp_path / "resumed.out").read_text()[-3000:]
        assert head.jobs() == jobs + 2  # the killed driver and the resumed one, both on this cluster
        table = pd.read_csv(folder / "trials.csv")
        assert (table["status"] == "complete").sum() == TRIALS
        ends = Counter(_key(event) for event in _events(log) if event["event"] == "end")
        # At most the one training whose end came just before the kill, before its record, is trained again.
        assert sum(count - 1 for count in ends.values()) <= 1 and set(ends) >= ended_before
