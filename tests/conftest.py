import os
import tempfile

# A fresh measurement cache for each test session (and the CLI subprocesses it starts),
# so no test is served figures measured by an earlier version of the code.
os.environ["SCALESEARCH_CACHE"] = os.path.join(tempfile.mkdtemp(prefix="scalesearch-cache-"), "measurements.jsonl")
