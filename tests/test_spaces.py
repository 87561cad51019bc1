"""Search spaces: built-ins, a user's own file, and the errors a user meets."""


import pytest
import torch

import scalesearch
from scalesearch.foundation.errors import InputError
from scalesearch.model.spaces import SearchSpace, Stage, builtin_spaces, load_space

USER_SPACE = """
from scalesearch.model.spaces import SearchSpace, Stage, Stem

TINY = SearchSpace(
    name="tiny",
    stem=Stem(channels=16),
    stages=(Stage("mbconv", 3, 2, 4, 24, 2, se_ratio=0.25), Stage("bottleneck", 3, 2, 1, 16, 1)),
    head_channels=256,
    resolution=64,
)
NOT_A_SPACE = 3
"""


def test_builtin_spaces_are_registered():
    assert set(builtin_spaces()) >= {"efficientnet_b0", "mobilenet_v2", "resnet50"}


@pytest.mark.slow  # over ~2 s
def test_a_users_space_file_is_loaded_and_builds(tmp_path):
    path = tmp_path / "my_space.py"
    path.write_text(USER_SPACE)
    space = load_space(f"{path}:TINY")
    assert space.name == "tiny"
    model = scalesearch.build_model(space, width=1.5, depth=2.0, num_classes=7)
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 7)
    assert [stage.repeats for stage in model.spec.stages] == [4, 2]


@pytest.mark.parametrize(
    "suffix, message",
    [(":MISSING", "defines no 'MISSING'"), (":NOT_A_SPACE", "not a scalesearch SearchSpace")],
)
def test_a_bad_name_in_a_space_file_is_one_clear_error(tmp_path, suffix, message):
    path = tmp_path / "my_space.py"
    path.write_text(USER_SPACE)
    with pytest.raises(InputError, match=message):
        load_space(f"{path}{suffix}")


def test_a_space_file_that_fails_to_import_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(InputError, match="importing .* failed: RuntimeError: boom"):
        load_space(f"{path}:X")


def test_unknown_names_list_the_builtins():
    with pytest.raises(InputError, match="efficientnet_b0"):
        load_space("efficientnet_b9")


@pytest.mark.parametrize(
    "stage_args",
    [("conv", 3, 1, 1, 8, 1), ("mbconv", 4, 1, 1, 8, 1), ("mbconv", 3, 3, 1, 8, 1), ("mbconv", 3, 1, 1, 0, 1)],
)
def test_malformed_stages_are_rejected(stage_args):
    with pytest.raises(InputError):
        Stage(*stage_args)


def test_a_space_needs_stages():
    from scalesearch.model.spaces import Stem

    with pytest.raises(InputError, match="no stages"):
        SearchSpace("empty", Stem(8), (), None, 32)


def test_build_model_by_name_honours_width_and_depth():
    model = scalesearch.build_model("efficientnet_b0", width=1.4, depth=1.8, num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == 19_341_616  # B4's width and depth
