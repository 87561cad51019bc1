"""The proxy training on CPU: it learns, is deterministic, fails clearly, and honours the resolution."""
from __future__ import annotations

from scalesearch.foundation.table import RESULT_FIELDS, RUNNER_FIELDS

import math
import warnings

import pytest
import torch

from scalesearch.training import batches
from scalesearch.model.build import ScaledNetwork
from scalesearch.data.datasets import load_dataset
from scalesearch.foundation.errors import InputError
from scalesearch.training.presets import PRESETS
from scalesearch.training.proxy import ProxyConfig, TrialFailed, learning_rate_at, train_proxy
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space

TINY = PRESETS["cpu-tiny"]
EPOCH_KEYS = {"epoch", "accuracy", "loss", "train_loss", "seconds"}


pytestmark = pytest.mark.usefixtures("one_thread")  # every test here trains (tests/conftest.py)


@pytest.fixture(scope="module")
def base():
    return proxy_base(load_space("efficientnet_b0"), TINY.base_width, TINY.base_depth, TINY.base_resolution)


@pytest.fixture(scope="module")
def small_data():
    """Enough for a few steps: determinism, failures and hooks, not learning."""
    return load_dataset("synthetic", proxy_images=160, val_images=40, source_resolution=64)


def quick(**fields) -> ProxyConfig:
    # The CPU's recipe wherever the tests run: exact determinism is a CPU property (tests/test_gpu_path.py covers CUDA's).
    return ProxyConfig(**{"epochs": 1, "batch_size": 32, "learning_rate": 0.05, "max_steps": 3, "device": "cpu", **fields})


@pytest.mark.slow  # over ~2 s
def test_two_epochs_on_the_synthetic_set_learn_clearly_above_chance(base):
    dataset = load_dataset("synthetic", proxy_images=TINY.proxy_images, val_images=TINY.val_images,
                           source_resolution=TINY.source_resolution)
    # On the CPU even where a GPU is present (bench/gpu_check.sh runs this file there): this is cpu-tiny's recipe.
    config = ProxyConfig(epochs=2, batch_size=TINY.batch_size, learning_rate=TINY.learning_rate, device="cpu")
    result = train_proxy(scale(base), dataset, config)
    assert result.accuracy >= 0.2  # chance is 0.1; measured 0.26–0.29 over seeds 0–2
    assert result.history[1]["train_loss"] < result.history[0]["train_loss"]
    assert result.epochs == 2 and result.device == "cpu"
    assert result.images_per_second > 0 and result.train_seconds > 0
    assert 0 < result.latency_ms < result.latency_ms_batch
    assert result.peak_memory_bytes is None  # CPU: not measurable per trial, and said so


@pytest.mark.slow  # over ~2 s
def test_same_seed_gives_identical_results_and_another_seed_does_not(base, small_data):
    def run(seed):
        result = train_proxy(scale(base), small_data, quick(seed=seed))
        return [(record["accuracy"], record["loss"], record["train_loss"]) for record in result.history]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_exploding_learning_rate_fails_the_trial_with_a_clear_reason(base, small_data):
    with pytest.raises(TrialFailed, match=r"^loss became (nan|inf) at epoch 1 step [23]$"):
        train_proxy(scale(base), small_data, quick(learning_rate=1e30, warmup_fraction=0.0))


def test_nan_from_a_hook_names_the_exact_step(base, small_data):
    calls = []

    def poison_third_forward(module, inputs, output):
        calls.append(1)
        return output * math.nan if len(calls) == 3 else output

    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, inputs, output: poison_third_forward(module, inputs, output)
        if isinstance(module, ScaledNetwork) else None)
    try:
        with pytest.raises(TrialFailed, match=r"^loss became nan at epoch 1 step 3$"):
            train_proxy(scale(base), small_data, quick())
    finally:
        handle.remove()


def record_input_sizes():
    """A global forward pre-hook: the spatial size of every input the built network sees."""
    sizes = []

    def hook(module, inputs):
        if isinstance(module, ScaledNetwork):
            sizes.append(tuple(inputs[0].shape[-2:]))

    return sizes, torch.nn.modules.module.register_module_forward_pre_hook(hook)


@pytest.mark.parametrize("pixels", [40, 64])
def test_the_model_sees_the_candidates_resolution(base, small_data, pixels):
    sizes, handle = record_input_sizes()
    try:
        train_proxy(scale(base, pixels=pixels), small_data, quick())
    finally:
        handle.remove()
    assert sizes and set(sizes) == {(pixels, pixels)}  # training, validation and latency inputs alike


def test_upsampling_beyond_the_source_resolution_warns(base, small_data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_proxy(scale(base, pixels=72), small_data, quick())
    assert [warning for warning in caught if "upsampled from the dataset's 64 px" in str(warning.message)]


def test_on_epoch_is_called_once_per_epoch_with_the_documented_keys(base, small_data):
    seen = []
    result = train_proxy(scale(base), small_data, quick(epochs=2, max_steps=None, batch_size=80), on_epoch=seen.append)
    assert [record["epoch"] for record in seen] == [1, 2]
    assert all(set(record) == EPOCH_KEYS for record in seen)
    assert seen == result.history and result.epochs == 2
    # Every result field of the table but the runner's, under the table's names (foundation/table.py); history and
    # recipe besides.
    assert set(result.to_dict()) - {"history", "recipe"} == set(RESULT_FIELDS) - set(RUNNER_FIELDS)


def test_an_error_raised_by_on_epoch_propagates(base, small_data):
    class StopTrial(Exception):
        pass

    def stop(record):
        raise StopTrial

    with pytest.raises(StopTrial):
        train_proxy(scale(base), small_data, quick(), on_epoch=stop)


def test_max_steps_ends_training_early(base, small_data):
    result = train_proxy(scale(base), small_data, quick(epochs=3, max_steps=2))
    assert result.epochs == 1


@pytest.mark.parametrize("fields", [
    pytest.param({"epochs": 0}, id="no-epochs"),
    pytest.param({"learning_rate": 0.0}, id="zero-rate"),
    pytest.param({"warmup_fraction": 1.0}, id="all-warm-up"),
    pytest.param({"max_steps": 0}, id="no-steps"),
])
def test_bad_configs_are_input_errors(fields):
    with pytest.raises(InputError):
        ProxyConfig(**fields)


def test_learning_rate_warms_up_linearly_then_decays_to_zero():
    rates = [learning_rate_at(step, 100, 10, 0.4) for step in range(100)]
    assert rates[0] == pytest.approx(0.04) and rates[9] == pytest.approx(0.4)
    assert all(later <= earlier for earlier, later in zip(rates[10:], rates[11:]))
    assert rates[-1] < 0.001


def test_resize_is_antialiased_so_lower_resolutions_lose_fine_detail():
    stripes = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    stripes[..., ::2] = 255  # the finest pattern 64 px can hold
    assert batches.resize(stripes, 64).float().std() > 100
    assert batches.resize(stripes, 32).float().std() < 5  # averaged away, not aliased into a coarse pattern


def test_random_crop_flip_moves_and_mirrors_each_image_independently():
    images = torch.arange(16 * 16, dtype=torch.uint8).view(1, 1, 16, 16).expand(64, 3, 16, 16).contiguous()
    generator = torch.Generator().manual_seed(0)
    augmented = batches.random_crop_flip(images, generator)
    assert augmented.shape == images.shape
    distinct = {tuple(image[0, 8].tolist()) for image in augmented}
    assert len(distinct) > 10  # different offsets and flips per image, not one per batch
    again = batches.random_crop_flip(images, torch.Generator().manual_seed(0))
    assert torch.equal(augmented, again)


def test_a_misspelled_proxy_setting_is_refused_in_one_line_not_dropped():
    import pytest

    from scalesearch.foundation.errors import InputError
    from scalesearch.training.proxy import proxy_config

    assert proxy_config({"epochs": 2, "seed": 3}).epochs == 2
    with pytest.raises(InputError, match="unknown proxy setting.*learnig_rate"):
        proxy_config({"epochs": 2, "learnig_rate": 0.3})
