"""The guard on the `slow` mark: every test not marked slow that ran over 2 s is named at the end of the session,
and one over a hard limit fails the session.

The fast loop (-m "not slow") is only fast while the mark follows the clock, and the mark is set by hand. 2 s is the
mark's own rule (pyproject.toml's markers). The hard limit is 15 s, so that a loaded machine does not fail a run by
chance: on this 2-core machine with other test runs beside it (load average 4), the slowest unmarked call took 5.8 s,
and 15 s leaves that 2.5 times over; a test over 15 s is slow on any machine. Call durations only: a module's
fixtures (a Ray head) are its setup, paid once.
"""
from __future__ import annotations

import pytest

REPORT_SECONDS = 2.0
LIMIT_SECONDS = 15.0


class SlowGuard:
    def __init__(self):
        self.unmarked_over: dict[str, float] = {}  # node id → seconds its call took

    def pytest_runtest_logreport(self, report):
        # The report's own keywords hold its marks: under pytest-xdist the session that reports did not collect.
        if report.when == "call" and "slow" not in report.keywords and report.duration > REPORT_SECONDS:
            self.unmarked_over[report.nodeid] = report.duration

    def over_limit(self) -> dict[str, float]:
        return {nodeid: seconds for nodeid, seconds in self.unmarked_over.items() if seconds > LIMIT_SECONDS}

    def pytest_sessionfinish(self, session):
        if self.over_limit() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if not self.unmarked_over:
            return
        terminalreporter.section(f"tests not marked slow that took over {REPORT_SECONDS:g} s", yellow=True)
        for nodeid, seconds in sorted(self.unmarked_over.items(), key=lambda item: -item[1]):
            terminalreporter.line(f"{seconds:.1f} s {nodeid}")
        over = self.over_limit()
        if over:
            names = ", ".join(sorted(over))
            terminalreporter.line(f"slow guard: the session fails: {names} took over {LIMIT_SECONDS:g} s without "
                                  f"@pytest.mark.slow; mark them slow or make them faster", red=True, bold=True)


def pytest_configure(config):
    config.pluginmanager.register(SlowGuard(), "slow-guard")
