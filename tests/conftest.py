import os
import tempfile

import pytest

# A fresh measurement cache for each test session (and the CLI subprocesses it starts),
# so no test is served figures measured by an earlier version of the code.
os.environ["SCALESEARCH_CACHE"] = os.path.join(tempfile.mkdtemp(prefix="scalesearch-cache-"), "measurements.jsonl")


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head of the module's own, in its own temp dir; stopped by its own processes, never by Ray's stop command."""
    from tests.ray_cluster import RayHead

    with RayHead() as head:
        yield head
