"""Presets: what --preset names resolve to, and the invariants every preset must keep."""
from __future__ import annotations

import pytest

from scalesearch.foundation.errors import InputError
from scalesearch.training.presets import PRESETS, resolve_preset


@pytest.mark.parametrize("device, expected", [
    pytest.param("cpu", "cpu-tiny", id="cpu"),
    pytest.param("cuda", "gpu-small", id="cuda"),
    pytest.param("cuda:1", "gpu-small", id="cuda-index"),
])
def test_auto_picks_by_device(device, expected):
    assert resolve_preset("auto", device).name == expected


@pytest.mark.parametrize("name", list(PRESETS))
def test_named_presets_resolve_on_any_device(name):
    assert resolve_preset(name, "cpu") is PRESETS[name]


def test_unknown_preset_is_an_input_error_listing_the_choices():
    with pytest.raises(InputError, match="unknown preset 'huge'.*cpu-tiny, gpu-small, gpu-full"):
        resolve_preset("huge", "cpu")


@pytest.mark.parametrize("preset", list(PRESETS.values()), ids=list(PRESETS))
def test_source_resolution_covers_the_largest_candidates(preset):
    # Candidates at φ = 1 reach about base × 1.5 (γ up to 1.5): they must not be upsampled.
    assert preset.source_resolution >= 1.5 * preset.base_resolution
    assert PRESETS[preset.name] is preset and preset.description  # registered under its own name
