import os
import tempfile

import pytest

# pytester: tests/test_slow_guard.py runs planted sessions. tests/slow_guard.py: names the tests not marked slow
# that took over 2 s, and fails the session for one over 15 s.
pytest_plugins = ["pytester", "tests.slow_guard"]

# A fresh measurement cache for each test session (and the CLI subprocesses it starts),
# so no test is served figures measured by an earlier version of the code.
os.environ["SCALESEARCH_CACHE"] = os.path.join(tempfile.mkdtemp(prefix="scalesearch-cache-"), "measurements.jsonl")


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head of the module's own, in its own temp dir; stopped by its own processes, never by Ray's stop command."""
    from tests.ray_cluster import RayHead

    with RayHead() as head:
        yield head


@pytest.fixture
def one_thread():
    """One torch thread per training, as the runner gives each trial: with torch's default 2 threads
    on a busy 2-core machine the learning test took 56 s instead of 6 s."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
