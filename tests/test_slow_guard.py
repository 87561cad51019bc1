"""The guard on the `slow` mark (tests/slow_guard.py), on planted sessions: what it names, and when it fails a run.

The planted tests say how long their call took (a `takes` mark the planted conftest writes into the report, where
pytest puts the measured duration), so nothing here sleeps and a loaded machine cannot change the outcome.
"""
PLANTED_CONFTEST = '''
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: over ~2 s")
    config.addinivalue_line("markers", "takes(seconds): the duration the call's report says it took")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    takes = item.get_closest_marker("takes")
    if takes is not None and report.when == "call":
        report.duration = takes.args[0]
    return report
'''
PLANTED_TESTS = '''
import pytest


def test_quick():
    pass


@pytest.mark.takes(3.0)
def test_unmarked_over_two_seconds():
    pass


@pytest.mark.slow
@pytest.mark.takes(30.0)
def test_marked_slow():
    pass
'''
PLANTED_SLOW_MODULE = '''
import pytest

pytestmark = pytest.mark.slow


@pytest.mark.takes(40.0)
def test_in_a_module_marked_slow():
    pass
'''
OVER_THE_LIMIT = '''

@pytest.mark.takes(16.0)
def test_unmarked_over_the_limit():
    pass
'''
REPORT_HEADING = "*tests not marked slow that took over 2 s*"


def _run(pytester, monkeypatch, tests: str):
    pytester.makeconftest(PLANTED_CONFTEST)
    pytester.makepyfile(test_planted=tests, test_planted_slow=PLANTED_SLOW_MODULE)
    # The guard alone: no installed plugin (hypothesis' re-imported hypothesis in every planted session, ~2 s each).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest("-p", "tests.slow_guard")


def test_an_unmarked_test_over_two_seconds_is_named_and_the_marked_ones_are_not(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, PLANTED_TESTS)
    assert result.ret == 0  # over 2 s is named, not failed
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([REPORT_HEADING, "3.0 s test_planted.py::test_unmarked_over_two_seconds"])
    named = result.stdout.str().split("took over 2 s", 1)[1]
    assert "test_marked_slow" not in named and "test_in_a_module_marked_slow" not in named
    assert "test_quick" not in named and "slow guard" not in named


def test_an_unmarked_test_over_the_hard_limit_fails_the_session_by_name(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, PLANTED_TESTS + OVER_THE_LIMIT)
    result.assert_outcomes(passed=5)  # every test passed, and still
    assert result.ret == 1
    result.stdout.fnmatch_lines([REPORT_HEADING, "16.0 s test_planted.py::test_unmarked_over_the_limit",
                                 "3.0 s test_planted.py::test_unmarked_over_two_seconds",
                                 "slow guard: the session fails: test_planted.py::test_unmarked_over_the_limit took "
                                 "over 15 s without @pytest.mark.slow*"])


def test_a_session_without_slow_unmarked_tests_says_nothing(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "def test_quick():\n    pass\n")
    assert result.ret == 0 and "took over" not in result.stdout.str()
