"""Released EfficientNet B0–B7, ResNet-50 and MobileNetV2 against the published reference figures."""
import pytest

from scalesearch.model.build import count_parameters
from scalesearch.cost.measure import measure
from scalesearch.model.scaling import official_efficientnets, scale
from scalesearch.model.spaces import load_space

# docs/design.md §3: (resolution, repeats, [stem, 7 stages, head] channels, params, fvcore GFLOPs)
GOLDEN = {
    "B0": (224, [1, 2, 2, 3, 3, 4, 1], [32, 16, 24, 40, 80, 112, 192, 320, 1280], 5_288_548, 0.4017),
    "B1": (240, [2, 3, 3, 4, 4, 5, 2], [32, 16, 24, 40, 80, 112, 192, 320, 1280], 7_794_184, 0.7127),
    "B2": (260, [2, 3, 3, 4, 4, 5, 2], [32, 16, 24, 48, 88, 120, 208, 352, 1408], 9_109_994, 1.0266),
    "B3": (300, [2, 3, 3, 5, 5, 6, 2], [40, 24, 32, 48, 96, 136, 232, 384, 1536], 12_233_232, 1.8839),
    "B4": (380, [2, 4, 4, 6, 6, 8, 2], [48, 24, 32, 56, 112, 160, 272, 448, 1792], 19_341_616, 4.5125),
    "B5": (456, [3, 5, 5, 7, 7, 9, 3], [48, 24, 40, 64, 128, 176, 304, 512, 2048], 30_389_784, 10.505),
    "B6": (528, [3, 6, 6, 8, 8, 11, 3], [56, 32, 40, 72, 144, 200, 344, 576, 2304], 43_040_704, 19.472),
    "B7": (600, [4, 7, 7, 10, 10, 13, 4], [64, 32, 48, 80, 160, 224, 384, 640, 2560], 66_347_960, 38.449),
}
OFFICIAL = dict(official_efficientnets(load_space("efficientnet_b0")))


@pytest.mark.parametrize("name", GOLDEN)
def test_official_efficientnet_stage_table_and_parameters(name):
    resolution, repeats, channels, params, _ = GOLDEN[name]
    spec = OFFICIAL[name]
    assert spec.resolution == resolution
    assert [stage.repeats for stage in spec.stages] == repeats
    assert [spec.stem.channels, *(stage.channels for stage in spec.stages), spec.head_channels] == channels
    assert count_parameters(spec, 1000) == params


@pytest.mark.parametrize("name", GOLDEN)
@pytest.mark.slow  # over ~2 s
def test_official_efficientnet_fvcore_flops_within_half_a_percent(name):
    cost = measure(OFFICIAL[name], 1000)
    assert cost.flops / 1e9 == pytest.approx(GOLDEN[name][4], rel=0.005)
    assert cost.params == GOLDEN[name][3]


@pytest.mark.parametrize(
    "space, params, gflops",
    [pytest.param("resnet50", 25_557_032, 4.1115, id="resnet50"),
     pytest.param("mobilenet_v2", 3_504_872, 0.3142, id="mobilenet_v2")],
)
@pytest.mark.slow  # over ~2 s
def test_other_spaces_equal_the_standard_pytorch_models(space, params, gflops):
    spec = scale(load_space(space))
    assert count_parameters(spec, 1000) == params
    assert measure(spec, 1000).flops / 1e9 == pytest.approx(gflops, rel=0.005)
