"""Ray for tests without touching anyone else's Ray on this machine.

Ray's own stop command (with or without --force) ends every Ray process on the machine, a cluster
started by hand included. So a test starts its own head in its own temp dir and stops exactly the
processes it started.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray  # noqa: F401  Ray ships psutil (ray/thirdparty_files) and puts it on sys.path
import psutil

RAY_CLI = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def descendants(pid: int) -> list[psutil.Process]:
    """A process's children, grandchildren, ... Take them while it lives: once it dies they are no one's."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def end(processes: list[psutil.Process], grace: float = 30.0) -> None:
    """SIGTERM, and SIGKILL whatever still runs `grace` seconds later (grace=0: SIGKILL at once).

    Returns once all are gone. psutil checks each process's start time too, so a pid that was reused by
    someone else's process is never signalled."""
    if grace:
        _send(processes, psutil.Process.terminate)
        _, processes = psutil.wait_procs(processes, timeout=grace)
    _send(processes, psutil.Process.kill)
    psutil.wait_procs(processes, timeout=10)


def _send(processes: list[psutil.Process], action) -> None:
    for process in processes:
        try:
            action(process)
        except psutil.NoSuchProcess:
            pass


class RayHead:
    """`ray start --head --block` in a temp dir of its own; `stop()` ends exactly its processes.

    --block keeps `ray start` running as the parent of the head's processes (GCS, raylet, ...; the raylet's
    workers below it), so they are found as its descendants."""

    def __init__(self, num_cpus: int = 2, env: dict | None = None):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Short, under /tmp: Ray puts Unix sockets in it, and a socket path must stay under 108 bytes.
        self.temp_dir = tempfile.mkdtemp(prefix="ray-test-")
        log = Path(self.temp_dir, "ray-start.log")
        environment = dict(os.environ)
        environment.pop("RAY_ADDRESS", None)
        # Explicit, so the head does not depend on whether a ~/.ray/auth_token happens to exist
        # (Ray then turns token authentication on for `ray start`, and a driver given --address is refused).
        environment["RAY_AUTH_MODE"] = "disabled"
        environment.update(env or {})
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [RAY_CLI, "start", "--head", "--block", f"--port={self.port}", "--node-ip-address=127.0.0.1",
                 f"--temp-dir={self.temp_dir}", f"--num-cpus={num_cpus}", "--include-dashboard=false",
                 "--disable-usage-stats"],
                stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
        deadline = time.time() + 120
        while not accepts(self.port):
            if self.process.poll() is not None or time.time() > deadline:
                said = log.read_text()[-2000:]
                self.stop()
                raise RuntimeError(f"ray start --head did not come up: {said}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process.poll() is None and accepts(self.port)

    def jobs(self) -> int:
        """How many drivers have ever connected to this head (its GCS's job table)."""
        return len(ray._raylet.GcsClient(address=self.address).get_all_job_info())

    def nodes(self) -> list[tuple[str, bool]]:
        """(node id in hex, alive) of every node other than the head's that ever joined this head."""
        infos = ray._raylet.GcsClient(address=self.address).get_all_node_info()
        return [(info.node_id.hex(), info.state == 0) for info in infos.values() if not info.is_head_node]

    def stop(self) -> None:
        started = descendants(self.process.pid)
        self.process.terminate()  # `ray start --block` drains and ends its own processes on SIGTERM
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        end(started)  # whatever it left behind (at once, when it did its job)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "RayHead":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class RayNode:
    """A second node of a test's cluster: `ray start --address=HEAD --block` in a temp dir of its own, on the same
    machine. `kill()` ends it as a lost machine would (SIGKILL, its workers included); `stop()` as RayHead's."""

    def __init__(self, head: RayHead, num_cpus: int = 1):
        self.head = head
        self.temp_dir = tempfile.mkdtemp(prefix="ray-node-")
        log = Path(self.temp_dir, "ray-start.log")
        environment = {name: value for name, value in os.environ.items() if name != "RAY_ADDRESS"}
        environment["RAY_AUTH_MODE"] = "disabled"
        joined_before = {node for node, _ in head.nodes()}
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [RAY_CLI, "start", "--block", f"--address={head.address}", "--node-ip-address=127.0.0.1",
                 f"--temp-dir={self.temp_dir}", f"--num-cpus={num_cpus}", "--disable-usage-stats"],
                stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
        deadline = time.time() + 120
        while True:
            added = {node for node, alive in head.nodes() if alive} - joined_before
            if added:
                self.node_id = added.pop()
                break
            if self.process.poll() is not None or time.time() > deadline:
                said = log.read_text()[-2000:]
                self.stop()
                raise RuntimeError(f"ray start --address did not join: {said}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the node's processes at once, as a machine that loses power."""
        end([psutil.Process(self.process.pid), *descendants(self.process.pid)], grace=0)

    def stop(self) -> None:
        started = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        end(started)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "RayNode":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
