"""The Ray session of a run: Ray started, joined (--address, probed first) or stopped, with the process's
environment, loggers and warning filters quiet while it lasts and restored after; what the cluster can run; and the
process's SIGTERM handler, which Ray's own would replace with a crash dump and an abort."""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from scalesearch.foundation.errors import InputError, Terminated, raise_terminated
from scalesearch.pipeline.resources import Resources

_UNTOUCHED = object()  # the SIGTERM handler was not ours to set: not the main thread


@dataclass
class RaySession:
    """What start_ray changed, for stop_ray to undo: a notebook that calls scalesearch.search() keeps its own
    environment, logger levels and warning filters afterwards."""

    started: bool  # whether this run started (and so must shut down) Ray
    environment: dict  # variable → its value before the run (None: it was unset)
    levels: dict  # logger name → its level before the run
    filters: list  # warnings.filters before the run
    sigterm: object = _UNTOUCHED  # the SIGTERM handler before the run (signal.getsignal's answer)

    def __bool__(self) -> bool:
        return self.started


def _quiet_ray(verbose: bool) -> RaySession:
    # Set before Ray reads them: the legacy reporter honours verbose=0 (the new one still
    # prints its config table), and no per-trial CSV/JSON/TensorBoard loggers.
    defaults = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "RAY_DEDUP_LOGS": "0",
                "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
                "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1e9"}
    # Ctrl-C must reach scalesearch (which saves the table and writes the report), not Tune's handler. Forced, not a
    # default: with Tune's handler, a Ctrl-C ends Tune's loop quietly and the run would report itself complete.
    forced = {"TUNE_DISABLE_SIGINT_HANDLER": "1"}
    levels = {}
    if not verbose:
        defaults["RAY_LOG_TO_STDERR"] = "0"
        levels = {name: logging.ERROR for name in ("ray", "ray.tune", "ray.train", "ray.data")}
        # Tune's copy of its experiment state (RUN_DIR/ray) is not what a resume reads (study.journal is). When it
        # cannot be saved (a full disk), Tune logs a traceback and goes on; the run's own next write says it in one line.
        levels["ray.tune.execution.experiment_state"] = logging.CRITICAL
        # A crashed trial: the run says it in one line with the path to Tune's account (pipeline/trial_crash.py), or
        # trains it again when its node was lost; Tune's traceback and "Trials did not complete" add nothing.
        levels["ray.tune.execution.tune_controller"] = logging.CRITICAL
        levels["ray.tune.tune"] = logging.CRITICAL
    session = RaySession(False, {name: os.environ.get(name) for name in (*defaults, *forced)},
                         {name: logging.getLogger(name).level for name in levels}, list(warnings.filters))
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ.update(forced)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    if not verbose:
        warnings.filterwarnings("ignore", module="ray.*")
    return session


def _restore(session: RaySession) -> None:
    for name, value in session.environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for name, level in session.levels.items():
        logging.getLogger(name).setLevel(level)
    warnings.filters[:] = session.filters
    if session.sigterm is _UNTOUCHED or session.sigterm is None:
        return
    # Also after ray.shutdown(), which resets SIGTERM to its default in the kernel (Python's getsignal does not see
    # it): signal.signal sets it there again.
    if _holding:  # inside signals_held(): still held, then this handler
        _holding[signal.SIGTERM] = session.sigterm
        signal.signal(signal.SIGTERM, _holding["hold"])
    else:
        signal.signal(signal.SIGTERM, session.sigterm)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _own_sigterm(session: RaySession) -> None:
    """After ray.init: a SIGTERM stops the run as a Ctrl-C does (foundation/errors.Terminated), so the table, the
    report and winner.json are written, marked interrupted.

    ray.init sets a Python handler that exits at once, and Ray's C++ side then installs abseil's failure handler
    over it: a SIGTERM printed "*** SIGTERM received ... PC: @ ..." and aborted the process 3 s later, whatever was
    being written. signal.signal replaces both. A handler the process had of its own (a notebook's, an ignored
    SIGTERM) is put back instead of ours."""
    if session.sigterm is _UNTOUCHED:
        return
    before = session.sigterm
    signal.signal(signal.SIGTERM, raise_terminated if before in (None, signal.SIG_DFL) else before)


_HELD = (signal.SIGINT, signal.SIGTERM)
_WITHOUT_PYTHON = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: raise_terminated}  # when getsignal says None
_holding: dict = {}  # while signals_held() runs: "hold", its handler; and each held signal → the handler to put back


@contextmanager
def signals_held():
    """While the block runs, a Ctrl-C or a SIGTERM waits and is then dropped: for the steps of a run that is
    stopping anyway (the files that say how it ended, the put-back of a replaced run, Ray's shutdown), which a
    second signal must not cut in half. SIGKILL still stops the process at once. Outside the main thread
    (signals reach only that one) and inside another such block it changes nothing."""
    if not _in_main_thread() or _holding:
        yield
        return

    def hold(signum, frame) -> None:
        pass

    _holding.update({number: signal.signal(number, hold) for number in _HELD}, hold=hold)
    try:
        yield
    finally:
        _holding.pop("hold")
        for number in _HELD:
            handler = _holding.pop(number)
            signal.signal(number, _WITHOUT_PYTHON[number] if handler is None else handler)


# Bounds on Ray's own wait for an --address that answers TCP but not as a working Ray head (a hung GCS,
# another service on the port, a head that refuses us): one connection attempt instead of 20, and 5 s
# instead of 30 for the head's first answer. Ray's C++ side reads these once, when Ray is first imported,
# which in `scalesearch run` is inside `_connection_limits`. Set only while connecting, so no later
# process inherits them.
CONNECT_LIMITS = {"RAY_gcs_server_port_wait_time_s": "1", "RAY_py_gcs_connect_timeout_s": "5"}
PROBE_SECONDS = 3  # a head that does not accept a TCP connection in this time is taken as unreachable


def start_ray(resources: Resources, verbose: bool = False, declare_gpus: int | None = None) -> RaySession:
    """Ray for this run; pass what it returns to stop_ray, which undoes the run's changes to this process.

    ``declare_gpus`` (tests only): a local Ray declares this many GPUs whatever the machine has, so that
    fractional GPU scheduling can be tested on a CPU machine (tests/test_gpu_path.py)."""
    session = _quiet_ray(verbose)
    if _in_main_thread():
        session.sigterm = signal.getsignal(signal.SIGTERM)
    try:
        session.started = _start(resources, verbose, declare_gpus)
        _own_sigterm(session)
    except BaseException as error:
        _restore(session)
        if isinstance(error, SystemExit) and error.code == signal.SIGTERM:  # Ray's handler, as ray.init ran
            raise Terminated() from None
        raise
    return session


def _start(resources: Resources, verbose: bool, declare_gpus: int | None = None) -> bool:
    if resources.address:
        return _connect_ray(resources.address, verbose)
    import ray

    if ray.is_initialized():
        return False
    # "local", not None: with no address ray.init() joins the cluster named by RAY_ADDRESS or by the last
    # `ray start` on this machine, and our trials would run on someone else's Ray.
    with _own_process_groups():
        ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, log_to_driver=verbose,
                 configure_logging=True, num_gpus=declare_gpus)
    return True


_SEPARATING = False  # read in each child this process forks, as it was at the fork


def _leave_the_process_group() -> None:
    if _SEPARATING:
        os.setpgid(0, 0)


os.register_at_fork(after_in_child=_leave_the_process_group)


@contextmanager
def _own_process_groups():
    """The Ray processes ray.init starts (GCS, raylet, agents) each lead a process group of their own, as Ray's own
    trainings already do, instead of sharing the run's.

    A SIGTERM to the run's group (`timeout`, `kill -TERM -PGID`) then reaches the run alone, which stops as a Ctrl-C
    does and shuts its Ray down. Shared, it also ended the raylet, and a driver whose raylet is gone is ended by Ray's
    core worker at once (exit 1): under load that came before the run's own handler ran, and the run ended without
    writing its files (docs/reliability.md). A Ctrl-C is unchanged: Ray's children already block SIGINT. A run that
    dies outright still takes them with it: on Linux Ray binds each to the driver's life (PR_SET_PDEATHSIG). Elsewhere
    Ray's reaper instead ends the driver's whole group when the driver dies, so there they stay in it.

    Ray starts them with subprocess and a preexec_fn, so CPython runs the at-fork hook in each child before exec."""
    global _SEPARATING
    _SEPARATING = sys.platform.startswith("linux")
    try:
        yield
    finally:
        _SEPARATING = False


def _connect_ray(address: str, verbose: bool) -> bool:
    with _connection_limits():
        import ray

        if ray.is_initialized():
            return False
        try:
            _probe(address)
            with _stderr_hidden(not verbose):
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=verbose)
        except InputError:
            raise
        except Exception as error:
            raise InputError(f"cannot connect to Ray at {address}: {_why(error)}") from None
    return True


@contextmanager
def _connection_limits():
    saved = {name: os.environ.get(name) for name in CONNECT_LIMITS}
    os.environ.update(CONNECT_LIMITS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _stderr_hidden(hidden: bool):
    """Ray's C++ side writes its connection warnings straight to file descriptor 2, whatever the log level;
    a refusal is to be our one line."""
    if not hidden:
        yield
        return
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _probe(address: str) -> None:
    """A dead or unreachable head fails here in seconds; Ray itself retries it for minutes."""
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        # What ray.init(address="auto") will try: RAY_ADDRESS, else the last `ray start` on this machine
        # (ConnectionError when there is none).
        target = canonicalize_bootstrap_address("auto")
    else:
        target = address
    try:
        parts = urlsplit(target if "://" in target else "//" + target)
        host, port = parts.hostname, parts.port or (10001 if parts.scheme == "ray" else None)
    except ValueError:
        host, port = None, None
    if not host or not port:
        return  # not host:port; ray.init says what is wrong with it
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as error:
        shown = "" if target == address else f" ({target})"
        raise InputError(f"cannot reach the Ray cluster at {address}{shown}: "
                         f"nothing answers there ({error.strerror or type(error).__name__})") from None


def _why(error: BaseException) -> str:
    """Ray's one-line reason, with the token hint Ray hides in the cause's traceback text."""
    chain, cause = [], error
    while cause is not None and len(chain) < 5:
        chain.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    if any("InvalidAuthToken" in text or "AuthenticationError" in text for text in chain):
        return ("the cluster requires a token it did not get; set RAY_AUTH_MODE=token "
                "(token in ~/.ray/auth_token or RAY_AUTH_TOKEN)")
    return chain[0].splitlines()[0]


def cluster_resources() -> dict:
    import ray

    return ray.cluster_resources()


def slots(resources: Resources) -> int:
    """How many trials can train at once on the cluster Ray sees."""
    import math

    available = cluster_resources()
    fits = [math.floor(available.get("CPU", 1.0) / resources.cpus_per_trial)] if resources.cpus_per_trial > 0 else []
    if resources.gpus_per_trial > 0:
        fits.append(math.floor(available.get("GPU", 0.0) / resources.gpus_per_trial + 1e-9))
    if resources.concurrency:
        fits.append(resources.concurrency)
    return max(1, min(fits, default=1))


def check_resources(resources: Resources) -> None:
    """Refuse, before any trial, requests the cluster can never satisfy (Ray would wait forever)."""
    available = cluster_resources()
    gpus, cpus = available.get("GPU", 0.0), available.get("CPU", 0.0)
    if resources.gpus_per_trial > 0 and gpus == 0:
        raise InputError(f"--gpus-per-trial {resources.gpus_per_trial:g} asked for, but Ray sees no GPU on this machine or cluster")
    if resources.gpus_per_trial > gpus:
        raise InputError(f"--gpus-per-trial {resources.gpus_per_trial:g} is more than the {gpus:g} GPUs Ray sees")
    if resources.cpus_per_trial > cpus:
        raise InputError(f"--cpus-per-trial {resources.cpus_per_trial:g} is more than the {cpus:g} CPUs Ray sees")


def stop_ray(session: RaySession | None) -> None:
    """Shut down the Ray this run started (not one it joined), and restore what start_ray changed."""
    if not isinstance(session, RaySession):  # start_ray never returned: nothing to undo
        return
    if session.started:
        import ray

        ray.shutdown()
    _restore(session)
