"""The coefficients JSON: content, round trip, and refusing files that are not ours."""
import json

import pytest
import torch

from scalesearch.foundation.errors import InputError
from scalesearch.runs.coefficients import FORMAT, build_model_from_json, coefficients_document, write_document
from scalesearch.runs.export import export_run
from scalesearch.model.scaling import scale
from scalesearch.model.spaces import load_space
from tests.run_fixture import make_run, trial, write_shrinkable_space, write_tiny_space


@pytest.fixture(scope="module")
def document_path(tmp_path_factory):
    document = coefficients_document("mobilenet_v2", 1.2, 1.1, 1.15, budget=2.0, phis=[1, 2], num_classes=10)
    return write_document(document, tmp_path_factory.mktemp("export") / "coefficients.json")


@pytest.mark.slow  # over ~2 s
def test_the_json_holds_coefficients_base_and_models(document_path):
    document = json.loads(document_path.read_text())
    assert document["format"] == FORMAT and document["version"] == 1
    assert (document["alpha"], document["beta"], document["gamma"], document["budget"]) == (1.2, 1.1, 1.15, 2.0)
    assert [model["phi"] for model in document["models"]] == [0, 1, 2]
    assert "one fused multiply-add = one FLOP" in document["flops_convention"]
    assert document["provenance"]["torch"] == torch.__version__
    b1 = document["models"][1]
    assert b1["flops_ratio"] == pytest.approx(b1["flops"] / document["base"]["flops"])
    assert b1["stages"][0]["repeats"] == 2  # ceil(1 × 1.2)
    assert "official" not in document  # only for efficientnet_b0


@pytest.mark.slow  # over ~2 s
def test_build_model_from_json_rebuilds_the_listed_network(document_path):
    document = json.loads(document_path.read_text())
    model = build_model_from_json(document_path, phi=2)
    expected = scale(load_space("mobilenet_v2"), width=1.1**2, depth=1.2**2, resolution_ratio=1.15**2)
    assert model.spec == expected
    assert sum(p.numel() for p in model.parameters()) == document["models"][2]["params"]
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


@pytest.mark.slow  # over ~2 s
def test_asking_for_an_unlisted_phi_is_a_clear_error(document_path):
    with pytest.raises(InputError, match="no network with phi=5"):
        build_model_from_json(document_path, phi=5)


@pytest.mark.parametrize("content", ['{"format": "something-else", "version": 1}', "[1, 2]", "not json"])
def test_files_that_are_not_ours_are_refused(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(InputError):
        build_model_from_json(path)


@pytest.mark.slow  # over ~2 s
def test_efficientnet_documents_carry_the_official_networks_beside_the_formula():
    document = coefficients_document("efficientnet_b0", 1.2, 1.1, 1.15, phis=[1], num_classes=1000)
    official = {model["name"]: model for model in document["official"]}
    assert official["B7"]["params"] == 66_347_960
    # The paper's point measures 2.55x at φ=1 after rounding (docs/design.md §3), not 1.92x.
    assert document["models"][1]["flops_ratio"] == pytest.approx(2.55, abs=0.01)


@pytest.mark.parametrize("status", ["interrupted", "complete", None])
@pytest.mark.slow  # over ~2 s
def test_a_run_s_winner_json_says_how_the_run_ended(tmp_path, status):
    """An interrupted run's finished trials still have a winner; the JSON says it is only the best so far."""
    records = [trial(0, 1.2, 1.1, 1.15, accuracy=0.45), trial(1, 1.1, 1.05, 1.25, accuracy=0.41),
               trial(2, 1.3, 1.0, 1.2, status="running")]  # the trial the interrupt cut short
    run = make_run(tmp_path / "run", records, space=write_tiny_space(tmp_path), status=status)
    document = json.loads(export_run(run)["json"].read_text())
    assert document["status"] == (status or "unknown")
    assert list(document)[:3] == ["format", "version", "status"]
    assert document["search"]["trial"] == 0
    assert [model["name"] for model in document["models"]] == [f"B{phi}" for phi in range(8)]  # by default, as before


@pytest.fixture
def fvcore_traces(monkeypatch):
    """fvcore's trace watched, not replaced, with nothing served from a cache: the list of networks it traced."""
    from scalesearch.cost import measure as measure_module
    from scalesearch.cost.cache import disk_cache

    traces = []
    trace = measure_module._count_fvcore
    monkeypatch.setattr(measure_module, "_count_fvcore", lambda model, inputs: traces.append(model.spec) or trace(model, inputs))
    monkeypatch.setattr(disk_cache, "path", None)
    measure_module.clear_cache()
    yield traces
    measure_module.clear_cache()


@pytest.mark.slow  # over ~2 s
def test_the_export_counts_by_arithmetic_and_checks_the_winner_with_one_fvcore_trace(tmp_path, fvcore_traces):
    from scalesearch.cost.formula import cost
    from scalesearch.cost.measure import measure
    from scalesearch.model.scaling import ModelSpec

    run = make_run(tmp_path / "run", [trial(0, 1.2, 1.1, 1.15, accuracy=0.45)], space=write_tiny_space(tmp_path))
    document = json.loads(export_run(run)["json"].read_text())
    b1 = document["models"][1]
    assert fvcore_traces == [ModelSpec.from_dict(b1["spec"])]  # one trace: the winner's φ=1 network
    for model in document["models"]:
        counted = cost(ModelSpec.from_dict(model["spec"]), document["num_classes"])
        assert (model["flops"], model["params"], model["activations"]) == (counted.flops, counted.params, counted.activations)
    traced = measure(ModelSpec.from_dict(b1["spec"]), document["num_classes"], "fvcore").flops
    assert document["flops_check"] == {"network": "B1", "counter": "fvcore", "flops": traced, "arithmetic": b1["flops"],
                                       "agrees": True}


@pytest.mark.slow  # over ~2 s
def test_a_wrong_arithmetic_count_makes_the_export_say_the_check_failed(tmp_path, fvcore_traces, monkeypatch, caplog):
    import dataclasses

    from scalesearch.cost import formula

    right = formula.cost
    monkeypatch.setattr(formula, "cost", lambda spec, num_classes: dataclasses.replace(
        right(spec, num_classes), flops=right(spec, num_classes).flops + 1000))
    run = make_run(tmp_path / "run", [trial(0, 1.2, 1.1, 1.15, accuracy=0.45)], space=write_tiny_space(tmp_path))
    with caplog.at_level("WARNING", logger="scalesearch.runs.export"):
        document = json.loads(export_run(run)["json"].read_text())
    check = document["flops_check"]
    assert check["agrees"] is False and check["arithmetic"] == check["flops"] + 1000
    assert "FLOPs check failed" in caplog.text


def test_a_document_below_b0_and_between_the_b_numbers_lists_them_by_phi_with_ratios_to_b0(tmp_path):
    document = coefficients_document(write_shrinkable_space(tmp_path), 1.2, 1.1, 1.15, budget=2.0, phis=[0.5, -1],
                                     num_classes=10, counter="arithmetic")
    models = document["models"]
    assert [(model["name"], model["phi"]) for model in models] == [("B-1", -1), ("B0", 0), ("B0.5", 0.5)]
    assert document["base"]["flops"] == models[1]["flops"] and models[1]["flops_ratio"] == 1.0
    assert models[0]["flops_ratio"] < 1.0 < models[2]["flops_ratio"] < 2.0
    assert models[0]["resolution"] < document["base"]["resolution"] == 64 < models[2]["resolution"]
    assert document["ideal_flops_ratio"] == {"-1": 0.5, "0": 1.0, "0.5": pytest.approx(2**0.5)}
    path = write_document(document, tmp_path / "c.json")
    assert build_model_from_json(path, phi=0.5).spec.to_dict() == models[2]["spec"]
    assert build_model_from_json(path, phi=-1).spec.to_dict() == models[0]["spec"]


def test_too_small_a_phi_is_refused_naming_the_smallest_that_works(tmp_path):
    with pytest.raises(InputError, match=r"φ = -4 is too small.*smallest φ that works is -3.801 \(the smallest whole φ: -3\)"):
        coefficients_document(write_shrinkable_space(tmp_path), 1.2, 1.1, 1.15, phis=[-4, 1], counter="arithmetic")


@pytest.mark.slow  # over ~2 s
def test_a_run_s_winner_exported_at_other_phi_lists_them_and_keeps_the_official_ones(tmp_path):
    run = make_run(tmp_path / "run", [trial(0, 1.2, 1.1, 1.15, accuracy=0.45)], space=write_shrinkable_space(tmp_path))
    document = json.loads(export_run(run, phis=[-2, -1, 0.5, 1.5])["json"].read_text())
    assert [model["name"] for model in document["models"]] == ["B-2", "B-1", "B0", "B0.5", "B1.5"]
    flops = [model["flops"] for model in document["models"]]
    assert flops == sorted(flops) and len(set(flops)) == 5
    assert document["flops_check"]["network"] == "B1.5"  # no B1 listed: the largest network is traced instead
