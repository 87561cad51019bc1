"""Is the latency tie-break repeatable? For each finished run folder: the networks tied for the win, their latency
as the trials timed it (beside other trainings) and as ``cost/latency.time_alone`` times it after the search, several
times; and which network each pick would take.

    python bench/bench_tie_break.py RUN_DIR [RUN_DIR ...] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

from scalesearch.cost.latency import time_alone  # noqa: E402
from scalesearch.model.scaling import proxy_base  # noqa: E402
from scalesearch.model.spaces import load_space  # noqa: E402
from scalesearch.runs.folder import read_run  # noqa: E402
from scalesearch.study.rebuild import rebuild  # noqa: E402
from scalesearch.verdict.verdict import decide  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    print(f"machine: {machine()}\n")
    for folder in arguments.runs:
        run = read_run(folder)
        table, record = run.table, run.record
        base = proxy_base(load_space(record.space), record.proxy_base.width, record.proxy_base.depth,
                          record.proxy_base.resolution)
        tied = decide(table, "none").tied
        complete = table[table["status"] == "complete"]
        first = complete.drop_duplicates("architecture")
        specs = {row["architecture"]: rebuild(base, row) for _, row in first.iterrows() if row["architecture"] in tied}
        during = {architecture: complete[complete["architecture"] == architecture]["latency_ms"].dropna().tolist()
                  for architecture in specs}
        alone = [time_alone(specs, record.num_classes, torch.device("cpu"), threads=1) for _ in range(arguments.repeats)]
        print(f"### {folder} ({len(specs)} tied)\n")
        print("| network | px | latency in the trials, ms (each seed) | cv | timed alone, ms (each repeat) | cv |")
        print("|---|---|---|---|---|---|")
        for architecture, spec in specs.items():
            label = first.set_index("architecture").loc[architecture, "reference"]
            name = label if isinstance(label, str) and label else architecture
            alone_values = [timing[architecture] for timing in alone]
            print(f"| {name} | {spec.resolution} | {', '.join(f'{v:.1f}' for v in during[architecture])} | "
                  f"{_cv(during[architecture]):.2f} | {', '.join(f'{v:.2f}' for v in alone_values)} | {_cv(alone_values):.3f} |")
        # The verdict's own pick (verdict.py: the LATENCY_BAND, then the best mean) from each repeat's timings.
        picks_alone = [decide(table.assign(latency_ms_alone=table["architecture"].map(timing)), "latency").winner.architecture
                       for timing in alone]
        by_trials = decide(table.drop(columns="latency_ms_alone", errors="ignore"), "latency").winner.architecture
        print(f"\npick by the trials' own latency: {by_trials}; picks timed alone, each repeat: {picks_alone}\n")


def _cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.fmean(values) if len(values) > 1 else float("nan")


if __name__ == "__main__":
    main()
