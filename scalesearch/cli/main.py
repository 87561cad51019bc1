"""Command line: parse options, hand them to their command (cli/commands.py), turn errors into one line and an exit code."""
from __future__ import annotations

import argparse
import signal
import sys

from scalesearch.cli import commands as handlers
from scalesearch.cli.commands import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED
from scalesearch.foundation.errors import InputError, by_sigterm, raise_terminated



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
    parser.set_defaults(handler=handlers.cmd_spaces)


PHI_HELP = ("φ values: a list and/or ranges in whole steps, e.g. 1-7, -2..7, 0.5 or -1,0.5,1.5 (names B-1, B0.5); "
            "a negative φ so small that the rounding floors bind for most of the network is refused, naming the "
            "smallest that works (docs/design.md §3); default: 1-7")


def _add_extrapolate(commands) -> None:
    parser = commands.add_parser(
        "extrapolate",
        help="build B1..B7 (or other φ: B-1, B0.5) from coefficients and measure them",
        description="Build the networks of depth α^φ, width β^φ, resolution base·γ^φ and measure them with fvcore.",
        epilog="examples:\n  scalesearch extrapolate --alpha 1.2 --beta 1.1 --gamma 1.15 --json b1-b7.json\n"
               "  scalesearch extrapolate --alpha 1.2 --beta 1.1 --gamma 1.15 --phi=-2..7   # below B0 too\n"
               "  scalesearch extrapolate --alpha 1.2 --beta 1.1 --gamma 1.15 --phi=0,0.5,1  # between B0 and B1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--alpha", type=float, required=True, help="depth coefficient α ≥ 1")
    parser.add_argument("--beta", type=float, required=True, help="width coefficient β ≥ 1")
    parser.add_argument("--gamma", type=float, required=True, help="resolution coefficient γ ≥ 1")
    parser.add_argument("--space", default="efficientnet_b0", help="built-in name or path/to/file.py:NAME (default: efficientnet_b0)")
    parser.add_argument("--phi", default="1-7", help=PHI_HELP)
    parser.add_argument("--budget", help="the budget the coefficients were searched for, e.g. 2x (recorded in the JSON)")
    parser.add_argument("--num-classes", type=int, default=1000, help="classifier size (default: 1000)")
    parser.add_argument("--resolution-multiple", type=int, default=1, help="round resolutions to this many pixels (default: 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the coefficients JSON here")
    _common(parser)
    parser.set_defaults(handler=handlers.cmd_extrapolate)


RUN_EXAMPLES = """examples:
  scalesearch run --budget 2x                       # efficientnet_b0, synthetic:detail data, tpe, local Ray
  scalesearch run --budget 2x --sampler grid --constraint formula
  scalesearch run --budget 2x --data ./photos --space my_net.py:SPACE --trials 30
  scalesearch run --budget 2x --gpus-per-trial 0.25 # four small proxies share each GPU
  scalesearch run --budget 2x --address auto        # an existing Ray cluster
  scalesearch run --resume reports/run-20261123-120000
  scalesearch run --config run.yaml                 # every option from a file (keys as below, with _)
"""


def _add_run(commands) -> None:
    parser = commands.add_parser(
        "run", help="search (alpha, beta, gamma) for a FLOPs budget",
        description="Search compound-scaling coefficients: Optuna proposes, fvcore measures, Ray Tune trains proxies.",
        epilog=RUN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,  # so a --config file fills what the command line leaves out
    )
    what = parser.add_argument_group("what to search")
    what.add_argument("--budget", help="FLOPs multiplier per phi step, e.g. 2x (alpha*beta^2*gamma^2 = budget)")
    what.add_argument("--space", help="built-in name (see `scalesearch spaces`) or path/to/file.py:NAME (default: efficientnet_b0)")
    what.add_argument("--data", help="synthetic:detail (default), synthetic:capacity|context|mixed: tasks with a "
                           "planted answer (docs/data.md); synthetic, the first synthetic set; a folder of class "
                           "subfolders; cifar10:PATH or cifar100:PATH")
    what.add_argument("--constraint", help="measured (default: fvcore FLOPs ratio of the phi=1 network) or formula")
    what.add_argument("--tolerance", type=float, help="allowed distance from the budget, in x (default: 0.1)")
    how = parser.add_argument_group("how to search")
    how.add_argument("--sampler", help="grid | tpe (default) | gp | nsga2 | random")
    how.add_argument("--trials", type=int, help="searched candidates to train in the explore stage; the references "
                                               "train besides (default: the preset's)")
    how.add_argument("--seed", type=int, help="seed of the sampler and of the explore stage; the confirm stage's "
                                              "seeds follow it (default: 0)")
    how.add_argument("--seeds", help="seeds per network in the confirm stage, paired across networks, beside the "
                                     "explore seed that chose it, which does not judge it; 1: no confirm stage; auto: "
                                     "3, then further seeds for the networks the verdict compares until its comparison "
                                     "is resolved (default: auto)")
    how.add_argument("--max-seeds", type=int, help="with --seeds auto, the most confirm-stage seeds a network gets "
                                                   "(default: 8)")
    how.add_argument("--confirm", type=int, help="how many of the explore stage's best networks the confirm stage "
                                                 "trains again, beside every reference the verdict compares with (default: 3)")
    how.add_argument("--tie-break", help="among networks their seeds show as good as the best mean (within the "
                                         "verdict's tie margin: docs/design.md §4), take the one with the least "
                                         "latency (default) | activations | params | none")
    how.add_argument("--allow-shrink", action="store_true", help="let a dimension shrink (a coefficient below 1; "
                                                                 "the paper requires α, β, γ ≥ 1)")
    how.add_argument("--curve", action="store_true", help="after the verdict, train the winner and its rival at "
                                                         "φ = 0, 1, 2 and plot accuracy against FLOPs (the paper's "
                                                         "Figure 3 on these data); its cost is printed first")
    how.add_argument("--curve-phi", metavar="RANGE", help="the curve's φ values, e.g. 0-3 (implies --curve; default: 0-2)")
    how.add_argument("--no-reference", dest="references", action="store_false", help="skip the reference trials (paper point, single-dimension scalings)")
    how.add_argument("--corner-check", action=argparse.BooleanOptionalAction,
                     help="where a single-dimension scaling leads the explore stage, train the two compounds next to "
                          "it before confirming, so that 'a single dimension wins' is tested against them "
                          "(docs/design.md §4; default: on; not with --sampler grid or --fidelity halving)")
    how.add_argument("--grid-step", type=float, help="grid step (default: 0.05)")
    how.add_argument("--scheduler", help="none (default) or asha (stop poor trials early; single objective only)")
    how.add_argument("--fidelity", help="full (default): every candidate trains at the proxy's length; halving: "
                                        "successive halving, every candidate first at --min-epochs and the best "
                                        "1/--reduction of each rung again at the next length")
    how.add_argument("--min-epochs", type=int, help="with --fidelity halving, the shortest rung's epochs "
                                                   "(default: the proxy's epochs / --reduction)")
    how.add_argument("--reduction", type=int, help="with --fidelity halving, a rung keeps 1/REDUCTION of its "
                                                  "networks, and each is REDUCTION times the one below (default 3)")
    proxy = parser.add_argument_group("proxy training")
    proxy.add_argument("--preset", help="auto (default) | cpu-tiny | gpu-small | gpu-full")
    proxy.add_argument("--proxy-epochs", type=int, help="epochs per proxy training (default: the preset's)")
    proxy.add_argument("--proxy-images", type=int, help="class-balanced training subset (default: the preset's)")
    proxy.add_argument("--base-resolution", type=int, help="pixels of the proxy base network (default: the preset's)")
    proxy.add_argument("--objective", help=argparse.SUPPRESS)  # analytic: instant stand-in, for tests
    where = parser.add_argument_group("where to run")
    where.add_argument("--cpus-per-trial", type=float, help="CPUs per trial (default: 1)")
    where.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; fractions share a GPU (default: 1/4 if a GPU is present, else 0)")
    where.add_argument("--concurrency", type=int, help="trials at once (default: as resources allow)")
    where.add_argument("--address", help="an existing Ray cluster: auto, its head's host:port, or ray://host:port (default: a local Ray)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", help="run folder (default: reports/<name>)")
    output.add_argument("--name", help="run name (default: run-<date>-<time>)")
    output.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run; finished trials are kept")
    output.add_argument("--force", action="store_true", help="replace the run already in --out")
    output.add_argument("--config", help="YAML file with any of these options (command line wins)")
    output.add_argument("--tensorboard", metavar="DIR", help="also write every training's learning curve (validation "
                                                             "accuracy and loss by epoch) as TensorBoard event files "
                                                             "under DIR, one run per training: STAGE/NETWORK/seedK "
                                                             "(needs: pip install 'scalesearch[tensorboard]')")
    parser.add_argument("--debug", action="store_true", default=False, help="show tracebacks instead of one-line errors")
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="show Ray's and fvcore's own output")
    parser.set_defaults(handler=handlers.cmd_run)


def _add_report(commands) -> None:
    parser = commands.add_parser("report", help="write a run's HTML report", description="Write RUN_DIR/report.html from the run's table.",
                                 epilog="example: scalesearch report reports/run-20261123-120000")
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--out", help="HTML path (default: RUN_DIR/report.html)")
    parser.add_argument("--self-contained", action="store_true",
                        help="one file: plotly.js inside the page instead of plotly.min.js beside it (several MB "
                             "larger); for a report you mail or copy on its own")
    _common(parser)
    parser.set_defaults(handler=handlers.cmd_report)


def _add_export(commands) -> None:
    parser = commands.add_parser("export", help="write the winner's coefficients and B1-B7 (or other φ) as JSON",
                                 description="Export the winning (alpha, beta, gamma) with its extrapolated B1-B7, "
                                             "or the networks at other φ (--phi).",
                                 epilog="examples:\n  scalesearch export reports/run-20261123-120000 --json winner.json --pick knee\n"
                                        "  scalesearch export reports/run-20261123-120000 --phi=-2..7   # B-2..B7 in winner.json",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--json", metavar="PATH", help="default: RUN_DIR/winner.json")
    parser.add_argument("--pick", choices=("best", "knee"), default="best", help="best accuracy (default) or the Pareto knee")
    parser.add_argument("--phi", default="1-7", help=PHI_HELP + "; `scalesearch report RUN_DIR` then shows the φ "
                        "winner.json lists")
    parser.add_argument("--csv", metavar="PATH", help="also write the trials table as CSV")
    parser.add_argument("--parquet", metavar="PATH", help="also write the trials table as Parquet")
    _common(parser)
    parser.set_defaults(handler=handlers.cmd_export)


def _add_check(commands) -> None:
    parser = commands.add_parser(
        "check", help="does the proxy predict a longer training? (Kendall τ)",
        description="Train the run's confirmed networks and references again for N× the proxy's epochs and write "
                    "Kendall τ between the two rankings into the run folder and its report. Run it again to "
                    "continue a check that was stopped.",
        epilog="example: scalesearch check reports/run-20261123-120000 --epochs-factor 4")
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--epochs-factor", type=int, default=4, help="how many times the proxy's epochs (default: 4)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per network of the longer training (default: 1)")
    _common(parser)
    parser.set_defaults(handler=handlers.cmd_check)


def _add_show(commands) -> None:
    parser = commands.add_parser("show", help="print a run's trials table", description="Print a run's trials table.",
                                 epilog="example: scalesearch show reports/run-20261123-120000 --all")
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--all", action="store_true", help="every column, not just the main ones")
    _common(parser)
    parser.set_defaults(handler=handlers.cmd_show)


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="scalesearch",
        description="Search compound-scaling coefficients (α, β, γ) for a network, data and FLOPs budget.",
    )
    from scalesearch import __version__

    parser.add_argument("--version", action="version", version=f"scalesearch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    commands.required = True
    _add_run(commands)
    _add_report(commands)
    _add_export(commands)
    _add_show(commands)
    _add_check(commands)
    _add_extrapolate(commands)
    _add_spaces(commands)
    return parser


VALUE_OPTIONS = ("--budget", "--alpha", "--beta", "--gamma", "--tolerance", "--trials", "--phi")


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


def _stop_on_sigterm() -> None:
    """SIGTERM (SLURM, Kubernetes, `timeout`) stops a command as Ctrl-C does; an ignored SIGTERM stays ignored.
    The Ray session sets it again after ray.init, which replaces it (pipeline/ray_session.py)."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, raise_terminated)


def interrupted_line(command: str, interruption: KeyboardInterrupt) -> str:
    """The one line of a command stopped by Ctrl-C or SIGTERM, with what to do next where the command said it."""
    how = "SIGTERM" if by_sigterm(interruption) else "Ctrl-C (SIGINT)"
    next_step = getattr(interruption, "next_step", "")
    return f"scalesearch {command}: interrupted by {how}" + (f"; {next_step}" if next_step else "")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(_attach_dash_values(sys.argv[1:] if argv is None else list(argv)))
    if argv is None:  # the command line, not a caller's own process (tests call main with a list)
        _stop_on_sigterm()
    try:
        return args.handler(args)
    except InputError as error:
        if args.debug:
            raise
        print(f"scalesearch {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interruption:  # Ctrl-C, or SIGTERM (foundation/errors.Terminated)
        if args.debug:
            raise
        print(interrupted_line(args.command, interruption), file=sys.stderr)
        return EXIT_TERMINATED if by_sigterm(interruption) else EXIT_INTERRUPTED
    except Exception as error:  # the one place that turns any failure into one line
        if args.debug:
            raise
        print(f"scalesearch {args.command}: failed: {type(error).__name__}: {error} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
