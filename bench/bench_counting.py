"""Where a proposal's time goes, without Ray or training: the study's proposals for the default run's base
(cpu-tiny: efficientnet_b0 at width 0.25, depth 0.75, 34 px; budget 2x, tpe, measured, references, 10 trials)
with an empty FLOPs cache, timing SearchStudy._evaluate (building, counting, solving γ) and SearchStudy._describe
(the candidate's description written to Optuna's journal). Both are inside the table's measure_seconds.

    python bench/bench_counting.py
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ["SCALESEARCH_CACHE"] = str(Path(tempfile.mkdtemp(prefix="bench-counting-")) / "measurements.jsonl")

from scalesearch.cost.measure import measure  # noqa: E402  (after the cache is pointed at an empty file)
from scalesearch.model.scaling import proxy_base, scale  # noqa: E402
from scalesearch.model.spaces import load_space  # noqa: E402
from scalesearch.study import search_study  # noqa: E402
from scalesearch.study.proposal import Proposal  # noqa: E402
from scalesearch.study.settings import SearchSettings  # noqa: E402

times: dict[str, list[float]] = {"_evaluate": [], "_describe": []}


def timed(name: str):
    original = getattr(search_study.SearchStudy, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times[name].append(time.perf_counter() - started)

    setattr(search_study.SearchStudy, name, wrapper)


def main() -> None:
    for name in times:
        timed(name)
    base = proxy_base(load_space("efficientnet_b0"), 0.25, 0.75, 34)
    base_flops = measure(scale(base), 10).flops  # not timed; fvcore, so that the script runs on older trees too
    settings = SearchSettings(budget=2.0, trials=10, seed=0)
    study = search_study.SearchStudy(Path(tempfile.mkdtemp(prefix="bench-counting-")), base, base_flops, settings)
    while isinstance(proposal := study.propose(), Proposal):
        study.complete(proposal.trial, {"accuracy": 0.4})
    for name, values in times.items():
        print(f"{name:10s} {len(values)} calls, median {statistics.median(values) * 1000:8.1f} ms, "
              f"total {sum(values):6.2f} s")


if __name__ == "__main__":
    main()
