"""The exceptions the CLI turns into one line and an exit code: InputError (2), and the interruptions (a Ctrl-C,
130; a SIGTERM, 143), which every layer treats alike: a run stops, and says how, as after a Ctrl-C."""


class InputError(ValueError):
    """Something the user gave (an option, a file, a folder) cannot be used."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, what SLURM, Kubernetes and `timeout` send to stop a job. A KeyboardInterrupt, so that everything
    that keeps a Ctrl-C's run whole (the table, the report and winner.json marked interrupted) keeps this one's."""


_sigterm_received = False


def raise_terminated(signum, frame) -> None:
    """The SIGTERM handler of a run (signal.signal): stop as a Ctrl-C stops."""
    global _sigterm_received
    _sigterm_received = True
    raise Terminated()


def by_sigterm(interruption: KeyboardInterrupt) -> bool:
    """Whether a SIGTERM stopped it. Ray turns an exception that a signal handler raises inside its own calls (while
    Tune waits on a result) into a plain KeyboardInterrupt, so the handler's own record says it too."""
    return isinstance(interruption, Terminated) or _sigterm_received

