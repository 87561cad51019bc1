"""Command line: parse options, call the package, turn errors into one line and an exit code."""
from __future__ import annotations

import argparse
import json
import sys

from scalesearch.errors import InputError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit code 2)."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Ray's and fvcore's own output")


def _add_spaces(commands) -> None:
    parser = commands.add_parser("spaces", help="list the built-in search spaces", description="List the built-in search spaces.")
    _common(parser)
    parser.set_defaults(handler=_cmd_spaces)


def _add_extrapolate(commands) -> None:
    parser = commands.add_parser(
        "extrapolate",
        help="build B1..B7 from coefficients and measure them",
        description="Build the networks of depth α^φ, width β^φ, resolution base·γ^φ and measure them with fvcore.",
        epilog="example: scalesearch extrapolate --alpha 1.2 --beta 1.1 --gamma 1.15 --json b1-b7.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--alpha", type=float, required=True, help="depth coefficient α ≥ 1")
    parser.add_argument("--beta", type=float, required=True, help="width coefficient β ≥ 1")
    parser.add_argument("--gamma", type=float, required=True, help="resolution coefficient γ ≥ 1")
    parser.add_argument("--space", default="efficientnet_b0", help="built-in name or path/to/file.py:NAME (default: efficientnet_b0)")
    parser.add_argument("--phi", default="1-7", help="φ values, e.g. 1-7, 3 or 1,3,5 (default: 1-7)")
    parser.add_argument("--budget", help="the budget the coefficients were searched for, e.g. 2x (recorded in the JSON)")
    parser.add_argument("--num-classes", type=int, default=1000, help="classifier size (default: 1000)")
    parser.add_argument("--resolution-multiple", type=int, default=1, help="round resolutions to this many pixels (default: 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the coefficients JSON here")
    _common(parser)
    parser.set_defaults(handler=_cmd_extrapolate)


def _cmd_spaces(args) -> int:
    from scalesearch.console import format_table
    from scalesearch.spaces import builtin_spaces

    rows = [
        [space.name, space.resolution, sum(stage.repeats for stage in space.stages), space.description]
        for space in builtin_spaces().values()
    ]
    print(format_table(["name", "resolution", "blocks", "description"], rows))
    print("\nYour own: --space path/to/file.py:NAME (a scalesearch.spaces.SearchSpace)")
    return EXIT_OK


def _cmd_extrapolate(args) -> int:
    from scalesearch.console import extrapolation_table
    from scalesearch.export import coefficients_document, write_document
    from scalesearch.scaling import FLOPS_CONVENTION, check_coefficients, parse_budget, parse_phis

    check_coefficients(args.alpha, args.beta, args.gamma)
    phis = parse_phis(args.phi)
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


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="scalesearch",
        description="Search compound-scaling coefficients (α, β, γ) for a network, data and FLOPs budget.",
    )
    from scalesearch import __version__

    parser.add_argument("--version", action="version", version=f"scalesearch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    commands.required = True
    _add_spaces(commands)
    _add_extrapolate(commands)
    return parser


VALUE_OPTIONS = ("--budget", "--alpha", "--beta", "--gamma", "--tolerance", "--trials")


def _attach_dash_values(argv: list[str]) -> list[str]:
    """``--budget -1x`` → ``--budget=-1x``, so the value's own check explains what is wrong
    instead of argparse's 'expected one argument'."""
    joined, index = [], 0
    while index < len(argv):
        if argv[index] in VALUE_OPTIONS and index + 1 < len(argv) and argv[index + 1].startswith("-") and argv[index + 1][1:2].isdigit():
            joined.append(f"{argv[index]}={argv[index + 1]}")
            index += 2
        else:
            joined.append(argv[index])
            index += 1
    return joined


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(_attach_dash_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        return args.handler(args)
    except InputError as error:
        if args.debug:
            raise
        print(f"scalesearch {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"scalesearch {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one place that turns any failure into one line
        if args.debug:
            raise
        print(f"scalesearch {args.command}: failed: {type(error).__name__}: {error} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
