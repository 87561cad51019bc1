"""report.html and export_run from run folders built like the search writes them."""
import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from scalesearch.report import write as report_module
from scalesearch.foundation.errors import InputError
from scalesearch.runs.coefficients import build_model_from_json
from scalesearch.runs.export import export_run
from scalesearch.report.write import grid_points, write_report
from scalesearch.report.summary import compute_spent, summary_section, training_seconds
from scalesearch.foundation.table import load_table
from scalesearch.runs.winner import pick_winner
from scalesearch.runs.folder import read_run
from scalesearch.verdict.statistics import estimate, paired_difference, pooled_sd
from scalesearch.verdict.verdict import decide, difference_phrase, networks
from tests.browser import Chromium, unavailable
from tests.run_fixture import demo_records, make_run, trial, write_tiny_space

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_REASON = "<img src=x onerror=alert(2)> & friends"
SECTIONS = ("summary", "pareto", "space", "progress", "extrapolation", "trials", "provenance")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A tiny MBConv space in a folder whose name needs escaping too."""
    folder = tmp_path_factory.mktemp("space") / "spaces & <things>"
    folder.mkdir()
    return write_tiny_space(folder)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, space):
    records = demo_records()
    for record in records:
        if record["status"] == "failed":
            record["reason"] = HOSTILE_REASON
    return make_run(tmp_path_factory.mktemp("runs") / "demo", records, name=HOSTILE_NAME, space=space)


@pytest.fixture(scope="module")
def report(run_dir):
    """Written once: measuring the winner's B0..B7 also leaves RUN_DIR/winner.json for the other tests."""
    return write_report(run_dir)


@pytest.fixture(scope="module")
def empty_report(tmp_path_factory, space):
    records = [
        trial(0, 1.9, 1.3, 1.0, status="infeasible", feasible=False, reason="alpha*beta^2 exceeds the budget"),
        trial(1, 1.2, 1.1, 1.15, status="failed", reason="RuntimeError: loss became NaN"),
    ]
    run = make_run(tmp_path_factory.mktemp("runs") / "empty", records, space=space, status="interrupted")
    return write_report(run)


def test_every_section_is_there_and_plotly_is_beside_it_not_on_a_cdn(report, run_dir):
    page = report.read_text()
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page
    assert int(re.search(r'data-figures="(\d+)"', page).group(1)) == 5
    assert '<script src="plotly.min.js"></script>' in page
    assert not re.search(r"<script[^>]+src=\"https?:", page)
    assert (report.parent / "plotly.min.js").stat().st_size > 1_000_000


def test_the_summary_names_the_winner_references_noise_and_cost(report, run_dir):
    page = report.read_text()
    winner = pick_winner(load_table(run_dir))
    assert f"α = {winner['alpha']:.3f}, β = {winner['beta']:.3f}, γ = {winner['gamma']:.3f}" in page
    for reference in ("paper", "paper-literal", "depth-only", "width-only", "resolution-only"):
        assert f"<td class=\"t\">{reference}</td>" in page
    table = load_table(run_dir)
    seeds = table[(table["architecture"] == winner["architecture"]) & (table["status"] == "complete")]["accuracy"]
    assert len(seeds) == 3  # the fixture trains the winner's network with three seeds
    assert f"{seeds.mean():.3f} ± {seeds.std():.3f}" in page
    # The references have seed 0 only: winner − reference is the verdict's paired difference over that one seed.
    seed_0 = table[(table["architecture"] == winner["architecture"]) & (table["seed"] == 0)]["accuracy"].iloc[0]
    depth_only = 0.347  # the fixture's depth-only accuracy
    assert f"{seed_0 - depth_only:+.3f} (n=1: no interval)" in page
    assert "trained with 3 seeds" in page and "pooled standard deviation" in page
    assert "3 min 00 s" in page and "cpu-tiny" in page
    table = load_table(run_dir)
    trial_minutes = table[table["status"] != "duplicate"]["train_seconds"].sum() / 60
    assert f"{trial_minutes:.1f} min" in page


def test_a_duplicate_costs_nothing_even_where_an_old_table_copied_its_original_s_seconds(tmp_path):
    records = [trial(0, 1.2, 1.1, 1.15, accuracy=0.45), trial(1, 1.1, 1.05, 1.25, accuracy=0.41),
               trial(2, 1.2, 1.1, 1.15, status="duplicate", accuracy=0.45, duplicate_of=0, reason="same network as trial 0")]
    run = read_run(make_run(tmp_path / "run", records))
    seconds = run.table["train_seconds"]
    assert seconds[2] == seconds[0]  # written before the fix: the duplicate carries its original's cost
    assert training_seconds(run.table) == pytest.approx(seconds[0] + seconds[1])
    assert f"{(seconds[0] + seconds[1]) / 60:.1f} min" in compute_spent(run)


def test_user_text_is_escaped_everywhere(report):
    page = report.read_text()
    assert HOSTILE_NAME not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page  # the failed trial's reason, in the table and in hover text
    assert "spaces &amp; &lt;things&gt;" in page  # the space file's folder, in the provenance


def test_one_seed_per_network_says_no_difference_has_an_interval(tmp_path, space):
    records = [record for record in demo_records() if record["trial"] < 19]  # drop the extra seeds
    page = write_report(make_run(tmp_path / "run", records, space=space), tmp_path / "out" / "r.html").read_text()
    assert "no difference between them has an interval, so the verdict calls none beyond the noise" in page
    assert (tmp_path / "out" / "plotly.min.js").exists()


def _two_networks_on_three_seeds(folder, rival_accuracies):
    """(the run, its summary section, its verdict, the rival): the winner at 0.50, 0.60, 0.55 on seeds 0-2 and a
    rival at ``rival_accuracies`` on the same seeds."""
    records = [trial(seed, 1.2, 1.1, 1.15, accuracy=accuracy, seed=seed) for seed, accuracy in enumerate((0.50, 0.60, 0.55))]
    records += [trial(3 + seed, 1.1, 1.05, 1.25, accuracy=accuracy, seed=seed)
                for seed, accuracy in enumerate(rival_accuracies)]
    run = read_run(make_run(folder, records))
    verdict = decide(run.table)
    rival = next(network for network in networks(run.table) if network.architecture != verdict.winner.architecture)
    return run, summary_section(run, pick_winner(run.table), None), verdict, rival


def test_the_seed_noise_is_judged_by_the_verdicts_paired_differences_not_by_the_pooled_sd(tmp_path):
    # Seed 1 is lucky for both networks: their own intervals overlap, their paired difference clears 0.
    run, section, verdict, rival = _two_networks_on_three_seeds(tmp_path / "run", (0.46, 0.57, 0.515))
    difference = paired_difference(verdict.winner.seeds, rival.seeds, verdict.confidence)  # at the verdict's level
    assert difference.excludes_zero() and estimate(rival.seeds.values()).high > verdict.winner.accuracy.low
    assert f'<span class="up">{difference_phrase(difference)}</span>' in section
    pooled = pooled_sd(network.accuracy for network in networks(run.table))
    assert f"pooled standard deviation of accuracy is <b>{pooled:.3f}</b>" in section
    assert "(2 sd)" not in section


def test_the_seed_noise_colours_only_what_the_verdicts_own_level_calls_beyond_the_noise(tmp_path):
    # +0.030 over three seeds: beyond the noise at 95% (± 0.025), not at the verdict's 98% (± 0.040): uncoloured,
    # so the report never calls a difference that the verdict's sentence does not.
    _, section, verdict, rival = _two_networks_on_three_seeds(tmp_path / "run", (0.46, 0.58, 0.52))
    assert paired_difference(verdict.winner.seeds, rival.seeds, 0.95).excludes_zero()
    difference = paired_difference(verdict.winner.seeds, rival.seeds, verdict.confidence)
    assert not difference.excludes_zero() and verdict.confidence == pytest.approx(0.98)
    assert difference_phrase(difference) in section and f'">{difference_phrase(difference)}</span>' not in section


def test_an_existing_matching_winner_json_is_reused_and_a_stale_one_is_not(report, run_dir, monkeypatch, tmp_path):
    def measuring(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(report_module, "winner_document", measuring)
    write_report(run_dir, tmp_path / "again.html")  # reuses RUN_DIR/winner.json
    stale = json.loads((run_dir / "winner.json").read_text())
    stale["search"]["proxy_coefficients"]["alpha"] += 0.05
    other = make_run(tmp_path / "stale", demo_records(), space=stale["search"]["space"])
    (other / "winner.json").write_text(json.dumps(stale))
    with pytest.raises(AssertionError, match="measured again"):
        write_report(other)


def test_a_run_with_no_complete_trial_says_so_plainly(empty_report):
    page = empty_report.read_text()
    assert "No trial completed yet: 2 trial(s) recorded (1 infeasible, 1 failed)" in page
    assert "This run is <b>interrupted</b>" in page
    assert 'data-figures="1"' in page  # only the search space has something to show


def test_an_interrupted_run_with_finished_trials_says_so_above_its_winner(tmp_path, space):
    records = [trial(0, 1.2, 1.1, 1.15, accuracy=0.45), trial(1, 1.1, 1.05, 1.25, accuracy=0.41),
               trial(2, 1.3, 1.0, 1.2, status="running")]
    page = write_report(make_run(tmp_path / "run", records, space=space, status="interrupted")).read_text()
    summary = page[page.index('<section id="summary">'):page.index('<section id="pareto">')]
    assert summary.index("This run is <b>interrupted</b>") < summary.index("Winner: ")


def test_missing_run_json_still_renders_with_unknowns(tmp_path, space):
    run = make_run(tmp_path / "run", demo_records(), space=space)
    (run / "run.json").unlink()
    (run / "winner.json").write_text("{}")  # and a useless winner.json: neither may crash the report
    page = write_report(run).read_text()
    assert "run.json is missing" in page and "Cannot extrapolate the winner" in page and "unknown" in page
    with pytest.raises(InputError, match="cannot tell which search space"):
        export_run(run)


def test_not_a_run_and_a_corrupt_table_are_one_line_input_errors(tmp_path):
    with pytest.raises(InputError, match="is not a scalesearch run"):
        write_report(tmp_path)
    with pytest.raises(InputError, match="is not a folder"):
        export_run(tmp_path / "nowhere")
    (tmp_path / "trials.parquet").write_bytes(b"\x00garbage\xff" * 100)
    for action in (write_report, export_run):
        with pytest.raises(InputError, match="unreadable") as error:
            action(tmp_path)
        assert "\n" not in str(error.value)


def test_a_damaged_parquet_falls_back_to_the_csv_written_beside_it(tmp_path):
    run = make_run(tmp_path / "run", demo_records())
    expected = load_table(run)
    (run / "trials.parquet").write_bytes(b"\x00garbage\xff" * 100)
    pd.testing.assert_frame_equal(load_table(run), expected)
    csv = (run / "trials.csv").read_text().splitlines()
    header = csv[0].split(",")
    broken = csv[1].split(",")
    broken[header.index("alpha")] = "lots"
    (run / "trials.csv").write_text("\n".join([csv[0], ",".join(broken), *csv[2:]]))
    with pytest.raises(InputError, match="wrong type"):
        load_table(run)


def test_a_self_contained_report_holds_plotly_and_writes_nothing_beside_it(report, run_dir, tmp_path):
    """(``report`` first: it leaves RUN_DIR/winner.json, so this page need not measure B0..B7 again.)"""
    page = write_report(run_dir, tmp_path / "alone.html", self_contained=True).read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alone.html"]
    assert "<script src=" not in page and len(page) > len(report.read_text()) + 1_000_000
    assert 'id="no-plotly"' not in page


def test_a_report_whose_plotly_js_may_go_missing_carries_a_notice_hidden_until_then(report):
    page = report.read_text()
    assert '<p id="no-plotly" class="alert" hidden>The plots need plotly.min.js beside this file; it is missing.' in page
    assert "<code>scalesearch report RUN_DIR --self-contained</code>" in page
    assert "typeof Plotly === 'undefined'" in page


def test_a_table_with_no_trials_at_all_still_renders(tmp_path):
    page = write_report(make_run(tmp_path / "run", [], status="running")).read_text()
    assert "No trial completed yet: 0 trial(s) recorded" in page and 'data-figures="0"' in page


def test_export_refuses_a_run_with_no_complete_trial(empty_report):
    with pytest.raises(InputError, match="no complete, feasible trial to export"):
        export_run(empty_report.parent)


@pytest.fixture(scope="module")
def front_run(tmp_path_factory, space):
    """Three feasible trials on one front: best accuracy at the most FLOPs, the knee in the middle."""
    records = [
        trial(0, 1.05, 1.0, 1.35, accuracy=0.40, flops_ratio=1.80),
        trial(1, 1.1, 1.05, 1.25, accuracy=0.46, flops_ratio=1.90),
        trial(2, 1.15, 1.1, 1.15, accuracy=0.47, flops_ratio=2.20),
        trial(3, 1.2, 1.1, 1.1, accuracy=0.30, flops_ratio=2.10),  # dominated
    ]
    return make_run(tmp_path_factory.mktemp("runs") / "front", records, space=space)


@pytest.mark.parametrize("pick, expected", [pytest.param("best", 2, id="best"), pytest.param("knee", 1, id="knee")])
def test_export_writes_the_picked_winner_and_builds_back(front_run, tmp_path, pick, expected):
    paths = export_run(front_run, tmp_path / f"{pick}.json", pick=pick, csv_path=tmp_path / "t.csv",
                       parquet_path=tmp_path / "t.parquet")
    document = json.loads(paths["json"].read_text())
    row = load_table(front_run).set_index("trial").loc[expected]
    assert document["search"]["trial"] == expected and document["search"]["pick"] == pick
    searched = document["search"]["proxy_coefficients"]
    assert (searched["alpha"], searched["beta"], searched["gamma"]) == (row["alpha"], row["beta"], row["gamma"])
    # Measured mode: α and β carry over to the full space and γ is solved there, so B1 measures the budget
    # as closely as whole pixels allow (γ stays 1 where a smaller input would be needed).
    assert (document["alpha"], document["beta"]) == (row["alpha"], row["beta"])
    b1 = document["models"][1]["flops_ratio"]
    assert abs(b1 - 2.0) < 0.1 or document["gamma"] == 1.0
    assert document["budget"] == 2.0 and document["num_classes"] == 10
    assert [model["phi"] for model in document["models"]] == list(range(8))
    model = build_model_from_json(paths["json"], phi=3)
    assert sum(p.numel() for p in model.parameters()) == document["models"][3]["params"]
    table = load_table(front_run)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["parquet"]), table)
    assert len(pd.read_csv(paths["csv"])) == len(table)


def test_export_defaults_to_winner_json_in_the_run(front_run):
    assert export_run(front_run) == {"json": front_run / "winner.json"}


def test_grid_points_follow_the_nni_grid(tmp_path):
    run = read_run(make_run(tmp_path / "grid", demo_records(), sampler="grid", constraint="formula", tolerance=0.1))
    assert len(grid_points(run)) == 108  # NNI's grid: 108 of 2,541 points strictly within 0.1 of 2
    measured = read_run(make_run(tmp_path / "measured", demo_records(), sampler="grid", constraint="measured",
                                 tolerance=0.1))
    # The (α, β) pairs the study walks in measured mode (one owner: study.feasibility.feasible_grid), not triples.
    assert len(grid_points(measured)) == 95 and (grid_points(measured)[:, 2] == 1.0).all()


@pytest.mark.slow  # a Python subprocess
def test_importing_the_report_loads_neither_ray_nor_optuna():
    code = "import sys, scalesearch.report.write; print([m for m in sys.modules if m.split('.')[0] in ('ray', 'optuna')])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


# -- in a real browser ------------------------------------------------------------------------
COUNT_TRIALS = """(function (id) {
  var data = document.getElementById(id).data;
  return data.filter(function (t) { return t.meta === 'trials'; })
             .reduce(function (n, t) { return n + t.x.length; }, 0);
})"""
PLOTS_DRAWN = "Array.from(document.querySelectorAll('.js-plotly-plot')).every(p => p.querySelector('svg.main-svg'))"
# The missing-plotly.js notice's text where a reader can see it, else null.
NOTICE_SHOWN = """(function (notice) {
  return notice && !notice.hidden && notice.offsetHeight > 0 ? notice.textContent : null;
})(document.getElementById('no-plotly'))"""


@pytest.fixture(scope="module")
def browser():
    """Each open() starts the page's errors and requests afresh: an earlier page's cannot leak in."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with Chromium() as chromium:
        yield chromium


@pytest.mark.slow  # headless Chromium
def test_the_report_renders_in_chromium_without_errors_or_network(browser, report, run_dir):
    browser.open(report.resolve().as_uri())
    assert browser.errors() == []
    assert all(url.startswith("file://") for url in browser.requested_urls())
    figures = browser.evaluate("Number(document.body.dataset.figures)")
    assert figures == 5
    assert browser.evaluate("document.querySelectorAll('.js-plotly-plot').length") == figures
    assert browser.evaluate(PLOTS_DRAWN)
    table = load_table(run_dir)
    with_flops = int((table["accuracy"].notna() & table["flops"].notna()).sum())
    with_latency = int((table["accuracy"].notna() & table["latency_ms"].notna()).sum())
    assert browser.evaluate(f"{COUNT_TRIALS}('fig-pareto-flops')") == with_flops == 16
    assert browser.evaluate(f"{COUNT_TRIALS}('fig-pareto-latency')") == with_latency
    assert browser.evaluate("document.getElementById('fig-pareto-flops').data.some(t => t.meta === 'front')")
    assert browser.evaluate("document.getElementById('no-plotly').hidden")


@pytest.mark.slow  # headless Chromium
def test_a_report_copied_alone_says_its_plotly_js_is_missing(browser, report, tmp_path):
    alone = tmp_path / "mailed" / "report.html"
    alone.parent.mkdir()
    shutil.copy(report, alone)
    browser.open(alone.resolve().as_uri())
    notice = browser.evaluate(NOTICE_SHOWN)
    assert notice and "plotly.min.js beside this file; it is missing" in notice
    assert "scalesearch report RUN_DIR --self-contained" in notice
    assert browser.evaluate("document.querySelectorAll('svg.main-svg').length") == 0  # what the notice explains


@pytest.mark.slow  # headless Chromium
def test_a_self_contained_report_copied_alone_renders_every_plot(browser, report, run_dir, tmp_path):
    """(``report`` first: it leaves RUN_DIR/winner.json, so this page need not measure B0..B7 again.)"""
    written = write_report(run_dir, tmp_path / "written" / "report.html", self_contained=True)
    alone = tmp_path / "mailed" / "report.html"
    alone.parent.mkdir()
    shutil.copy(written, alone)
    browser.open(alone.resolve().as_uri())
    assert browser.errors() == []
    assert browser.requested_urls() == [alone.resolve().as_uri()]
    assert browser.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 5
    assert browser.evaluate(PLOTS_DRAWN)
    assert browser.evaluate(NOTICE_SHOWN) is None


@pytest.mark.slow  # headless Chromium
def test_the_trials_table_sorts_when_a_header_is_clicked(browser, report, run_dir):
    browser.open(report.resolve().as_uri())
    column = list(load_table(run_dir).columns).index("accuracy")
    first = f"""(function () {{
      var table = document.querySelector('table.sortable');
      table.querySelectorAll('th')[{column}].click();
      return Number(table.tBodies[0].rows[0].cells[{column}].getAttribute('data-v'));
    }})()"""
    accuracy = load_table(run_dir)["accuracy"].dropna()
    assert browser.evaluate(first) == pytest.approx(accuracy.min())
    assert browser.evaluate(first) == pytest.approx(accuracy.max())  # a second click reverses
    assert browser.errors() == []


@pytest.mark.slow  # headless Chromium
def test_the_empty_report_renders_in_chromium_too(browser, empty_report):
    browser.open(empty_report.resolve().as_uri())
    assert browser.errors() == []
    assert browser.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length") >= 1
    assert "No trial completed yet" in browser.evaluate("document.querySelector('.empty').textContent")


def test_the_verdict_heads_the_report_and_is_in_winner_json(report, run_dir):
    import json

    from scalesearch.verdict.verdict import COMPOUND_WINS, NO_DIFFERENCE, SINGLE_WINS, decide

    verdict = decide(load_table(run_dir))
    page = report.read_text()
    assert f"Verdict: <b>{verdict.sentence}" in page.replace("&#x27;", "'")
    assert "95% interval" in page  # the per-network table the verdict was decided on
    document = json.loads((run_dir / "winner.json").read_text())
    assert document["verdict"]["outcome"] in (COMPOUND_WINS, SINGLE_WINS, NO_DIFFERENCE)
    assert document["verdict"]["sentence"] == verdict.sentence
    assert document["search"]["seeds"] == verdict.winner.accuracy.n


@pytest.mark.slow  # over ~2 s
def test_the_report_shows_the_phi_winner_json_was_exported_with(tmp_path):
    """`scalesearch export RUN --phi=-1,0.5` then `scalesearch report RUN`: the table and the plot show B-1 and B0.5."""
    from tests.run_fixture import write_shrinkable_space

    run = make_run(tmp_path / "run", [trial(0, 1.2, 1.1, 1.15, accuracy=0.45)], space=write_shrinkable_space(tmp_path))
    export_run(run, phis=[-1, 0.5])
    page = write_report(run).read_text()
    section = page[page.index('<section id="extrapolation">'):page.index('<section id="trials">')]
    assert "Extrapolation to B-1–B0.5" in section
    for name, phi in (("B-1", "-1"), ("B0", "0"), ("B0.5", "0.5")):
        assert f"<td class=\"t\">{name} <small>searched</small></td><td class=\"\">{phi}</td>" in section
    assert "B1 <small>searched</small>" not in section
    figure = json.loads(re.search(r'"fig-extrapolation",\s*(\[.*?\]),\s*\{', section, re.S).group(1))
    assert figure[0]["x"] == [-1, 0, 0.5]  # FLOPs against the φ asked for
    ideal = next(trace for trace in figure if trace["name"] == "budget^φ × B0")
    assert ideal["x"] == [-1, 0, 0.5]
