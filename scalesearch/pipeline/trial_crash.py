"""Why a Ray trial ended without a result, in one line for the table's ``reason`` column.

An exception in the objective is caught in the trial and reported as its reason (pipeline/ray_runner.py). What is
left is a trial whose process died (the kernel's OOM killer, a signal, a segfault) or an error outside the
objective. Tune writes the error to ``error.txt`` in the trial's folder, so the reason
is read from there, by a Tune callback that runs just after the searcher has been told (pipeline/ray_runner.py).
"""
from __future__ import annotations

import re
from pathlib import Path

GENERIC = "the Ray trial crashed (see the Ray log in the run folder)"
# What Ray's error says when the trial's node went away (a machine lost, its raylet killed), rather than the trial's
# own process dying on a node that lives on: the driver can no longer reach the actor, or is told its node died.
# (Ray 2.60's words: ActorUnavailableError's, a task's on a dead node, and a worker's whose node is dead.)
_NODE_LOST = ("is temporarily unavailable", "node it was running on is dead", "its node is dead", "NodeDiedError")


def crash_reason(error_file: str | None, stage: str) -> str:
    """The reason from Tune's error file of the trial (its ``Trial.error_file``, in Ray's local staging folder; the
    run folder gets a copy under ``stage``, the stage's folder of Tune files, which the reason names)."""
    if not error_file:
        return GENERIC
    try:
        text = Path(error_file).read_text(errors="replace")
    except OSError:
        return GENERIC
    return reason_from(text, Path(stage) / Path(error_file).parent.name / Path(error_file).name)


def node_lost(error_file: str | None, node: str | None, live_nodes: set[str]) -> bool:
    """Whether a crashed trial was lost with its node, so that its training is to run again elsewhere: Ray's error
    says so, or the node it last reported from (the table's ``node``: IP/id prefix) is no longer among
    ``live_nodes`` (the cluster's live node ids in hex)."""
    if node and "/" in node:
        prefix = node.split("/", 1)[1]
        if prefix and not any(live.startswith(prefix) for live in live_nodes):
            return True
    try:
        text = Path(error_file).read_text(errors="replace") if error_file else ""
    except OSError:
        return False
    return any(marker in text for marker in _NODE_LOST)


def reason_from(text: str, where: Path | str) -> str:
    """One line from the text of Tune's error file (``where``: that file, said so that a user can read it all)."""
    if "running low on memory" in text:  # Ray's own memory monitor
        return f"Ray's memory monitor killed the trial: the machine ran low on memory; Ray's account: {where}"
    if "died unexpectedly" in text or "worker process has died" in text:
        pid = re.search(r"^\s*pid: (\d+)", text, re.MULTILINE)
        process = f"the trial's process (pid {pid.group(1)})" if pid else "the trial's process"
        return (f"{process} died without raising an error: killed (most often by the kernel's OOM killer when memory "
                f"ran out; dmesg says) or crashed; Ray's account: {where}")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("Failure #")]
    if not lines:
        return GENERIC
    return f"the Ray trial crashed: {lines[-1][:300]} (all of it: {where})"

