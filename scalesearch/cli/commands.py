"""What each command does once its options are parsed: call the package, print what it returned, give the exit
code (cli/main.py parses and turns errors into one line)."""
from __future__ import annotations

import sys

from scalesearch.foundation.errors import InputError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process that SIGTERM ended


def cmd_run(args) -> int:
    from scalesearch.cli.console import run_summary
    from scalesearch.cli.progress import Progress
    from scalesearch.pipeline.options import options_from
    from scalesearch.pipeline.run import run

    options = options_from(vars(args))
    progress = Progress()
    try:
        outcome = run(options, progress=progress, command=" ".join(["scalesearch", *sys.argv[1:]]))
    finally:
        progress.end()
    print(run_summary(outcome))
    return EXIT_OK if outcome.succeeded else EXIT_FAILED


def cmd_check(args) -> int:
    from scalesearch.cli.console import fidelity_lines
    from scalesearch.cli.progress import Progress
    from scalesearch.pipeline.check import check

    progress = Progress()
    try:
        fidelity = check(args.run_dir, epochs_factor=args.epochs_factor, seeds=args.seeds, progress=progress,
                         command=" ".join(["scalesearch", *sys.argv[1:]]))
    finally:
        progress.end()
    print("\n".join(fidelity_lines(fidelity)))
    print(f"report: {args.run_dir}/report.html")
    return EXIT_OK if fidelity.status == "complete" else EXIT_FAILED


def cmd_report(args) -> int:
    from scalesearch.report.write import write_report

    print(f"wrote {write_report(args.run_dir, args.out, self_contained=args.self_contained)}")
    return EXIT_OK


def cmd_export(args) -> int:
    from scalesearch.model.phis import parse_phi_values
    from scalesearch.runs.export import export_run

    phis = parse_phi_values(args.phi)  # before any work: a typo is refused at once
    written = export_run(args.run_dir, args.json, args.pick, args.csv, args.parquet, phis=phis)
    for path in written.values():
        print(f"wrote {path}")
    return EXIT_OK


def cmd_show(args) -> int:
    from scalesearch.cli.console import trials_table
    from scalesearch.foundation.table import load_table

    print(trials_table(load_table(args.run_dir), every_column=args.all))
    return EXIT_OK


def cmd_spaces(args) -> int:
    from scalesearch.cli.console import format_table
    from scalesearch.model.spaces import builtin_spaces

    rows = [
        [space.name, space.resolution, sum(stage.repeats for stage in space.stages), space.description]
        for space in builtin_spaces().values()
    ]
    print(format_table(["name", "resolution", "blocks", "description"], rows))
    print("\nYour own: --space path/to/file.py:NAME (a scalesearch.model.spaces.SearchSpace)")
    return EXIT_OK


def cmd_extrapolate(args) -> int:
    from scalesearch.cli.console import extrapolation_table
    from scalesearch.runs.coefficients import coefficients_document, write_document
    from scalesearch.model.scaling import FLOPS_CONVENTION, check_coefficients, parse_budget
    from scalesearch.model.phis import parse_phi_values

    check_coefficients(args.alpha, args.beta, args.gamma)
    phis = parse_phi_values(args.phi)
    budget = parse_budget(args.budget) if args.budget else None
    if args.num_classes < 1:
        raise InputError(f"--num-classes must be at least 1, got {args.num_classes}")
    document = coefficients_document(
        args.space, args.alpha, args.beta, args.gamma, budget=budget, phis=phis,
        num_classes=args.num_classes, resolution_multiple=args.resolution_multiple,
    )
    print(f"{document['space']}: alpha={args.alpha:g} beta={args.beta:g} gamma={args.gamma:g}  "
          f"alpha*beta^2*gamma^2 = {document['formula_product']:.3f}")
    print(extrapolation_table(document["models"]))
    if "official" in document:
        print("\nOfficial EfficientNet B0-B7 (hand-adjusted, not exactly the formula):")
        print(extrapolation_table(document["official"]))
    print(f"\nFLOPs: {FLOPS_CONVENTION}")
    if args.json:
        path = write_document(document, args.json)
        print(f"wrote {path}")
    return EXIT_OK
