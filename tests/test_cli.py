"""The command line through a real subprocess: output, JSON, exit codes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a Python subprocess (torch import) per case

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300
    )


def test_spaces_lists_the_builtins():
    result = run_cli("spaces")
    assert result.returncode == 0
    for name in ("efficientnet_b0", "mobilenet_v2", "resnet50"):
        assert name in result.stdout


def test_extrapolate_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "nested" / "b.json"
    result = run_cli("extrapolate", "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15", "--space", "resnet50",
                     "--phi", "1-2", "--json", str(out), "--budget", "2x")
    assert result.returncode == 0, result.stderr
    assert "FLOPs ratio" in result.stdout and "one fused multiply-add = one FLOP" in result.stdout
    document = json.loads(out.read_text())
    assert [model["name"] for model in document["models"]] == ["B0", "B1", "B2"]
    assert document["budget"] == 2.0


def test_extrapolate_takes_phi_below_b0_between_the_b_numbers_and_in_whole_step_ranges(tmp_path):
    from tests.run_fixture import write_shrinkable_space

    space = write_shrinkable_space(tmp_path)
    coefficients = ["--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15", "--space", space, "--num-classes", "10"]
    out = tmp_path / "range.json"
    result = run_cli("extrapolate", *coefficients, "--phi=-2..7", "--json", str(out))
    assert result.returncode == 0, result.stderr
    models = json.loads(out.read_text())["models"]
    assert [model["name"] for model in models] == [f"B{phi}" for phi in range(-2, 8)]  # 10 networks
    flops = [model["flops"] for model in models]
    assert flops == sorted(flops) and len(set(flops)) == 10
    result = run_cli("extrapolate", *coefficients, "--phi", "-1,0.5,1.5")  # a value after a space may start with -
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[3:7]]
    assert names == ["B-1", "B0", "B0.5", "B1.5"], result.stdout


def test_export_refuses_too_small_a_phi_for_the_winner_in_one_line(tmp_path):
    from tests.run_fixture import make_run, trial, write_tiny_space

    # Every stage of the tiny space has one block: with α > 1 any φ < 0 holds all three at the floor.
    run = make_run(tmp_path / "run", [trial(0, 1.2, 1.1, 1.15, accuracy=0.45)], space=write_tiny_space(tmp_path))
    for phi, words in (("-1", "3 of its 3 stages would be held at one block or 8 channels, so it is no longer the "
                               "base scaled by α^φ, β^φ, γ^φ; the smallest φ that works is 0"),
                       ("1.2.3", "malformed")):
        result = run_cli("export", str(run), f"--phi={phi}")
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert not (run / "winner.json").exists()


VALID = ["--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15"]


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(["--alpha", "0.9", "--beta", "1.1", "--gamma", "1.15"], "alpha must be", id="alpha-below-one"),
        pytest.param(["--alpha", "nan", "--beta", "1.1", "--gamma", "1.15"], "alpha must be", id="alpha-nan"),
        pytest.param([*VALID, "--budget", "2y"], "not a number", id="budget-not-a-number"),
        pytest.param([*VALID, "--budget", "0x"], "above 1x", id="budget-zero"),
        pytest.param([*VALID, "--budget", "-1x"], "above 1x", id="budget-negative"),
        pytest.param([*VALID, "--phi", "7-1"], "φ range", id="phi-range-reversed"),
        pytest.param([*VALID, "--phi=-4"], "too small for alpha=1.2 beta=1.1 gamma=1.15 on efficientnet_b0: 4 of its 7 "
                     "stages would be held at one block or 8 channels", id="phi-too-small"),
        pytest.param([*VALID, "--phi", "-5,1"], "the smallest φ that works is -3.801 (the smallest whole φ: -3)",
                     id="phi-too-small-names-the-smallest"),
        pytest.param([*VALID, "--phi", "0.1234"], "more than 3 decimals", id="phi-too-many-decimals"),
        pytest.param([*VALID, "--phi", "0.5..3"], "whole steps", id="phi-range-not-whole-steps"),
        pytest.param([*VALID, "--space", "nope"], "unknown search space", id="unknown-space"),
        pytest.param([*VALID, "--space", "missing.py:X"], "not found", id="space-file-missing"),
        pytest.param(["--alpha", "abc", "--beta", "1.1", "--gamma", "1.15"], "invalid float", id="alpha-not-a-float"),
        pytest.param(["--beta", "1.1", "--gamma", "1.15"], "required", id="alpha-missing"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    result = run_cli("extrapolate", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback():
    result = run_cli("extrapolate", "--alpha", "0.9", "--beta", "1.1", "--gamma", "1.15", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_the_console_script_is_the_same_cli():
    script = Path(sys.executable).parent / "scalesearch"
    if not script.exists():
        pytest.skip("package not installed with its console script")
    result = subprocess.run([str(script), "spaces"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "resnet50" in result.stdout


def test_the_last_lines_list_the_references_in_the_reports_order_whatever_order_they_trained_in(tmp_path):
    from scalesearch.cli.console import run_summary
    from scalesearch.foundation.references import ORDER
    from scalesearch.foundation.status import RunStatus
    from scalesearch.foundation.table import make_table
    from scalesearch.pipeline.run import Outcome
    from tests.run_fixture import demo_records

    records = demo_records()
    labelled = [record for record in records if record.get("reference")]
    numbers = [record["trial"] for record in labelled]
    reordered = [{**record, "trial": number} for record, number in zip(labelled[::-1], numbers)]  # resolution-only first
    table = make_table(reordered + [record for record in records if not record.get("reference")])
    line = next(line for line in run_summary(Outcome(table, tmp_path, RunStatus.COMPLETE)).splitlines()
                if line.startswith("references: "))
    said = [part.split(" ")[0] for part in line.removeprefix("references: ").split(", ")]
    assert said == [label for label in ORDER if label in said] and len(said) == len(labelled)
