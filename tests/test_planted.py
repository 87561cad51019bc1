"""The planted tasks (``synthetic:NAME``): each holds the mechanism it was designed from, checked on the images
themselves (no training): what a base-sized input loses, what the labels encode, what global pooling cannot see."""
from __future__ import annotations

import pytest
import torch

from scalesearch.data import planted
from scalesearch.data.datasets import load_dataset
from scalesearch.foundation.errors import InputError
from scalesearch.training.batches import resize

BASE_PX, SOURCE_PX = 34, 96  # cpu-tiny's base input; a source that holds every planted frequency


def _images(variant: str, count: int, resolution: int = SOURCE_PX, seed: int = 0):
    dataset = load_dataset(f"synthetic:{variant}", proxy_images=count, val_images=len(planted.VARIANTS[variant].class_names),
                           source_resolution=resolution, seed=seed)
    return dataset


@pytest.mark.parametrize("variant", list(planted.VARIANTS))
def test_each_variant_is_balanced_deterministic_and_named(variant):
    names = planted.VARIANTS[variant].class_names
    first, again = _images(variant, 4 * len(names), 48), _images(variant, 4 * len(names), 48)
    other = _images(variant, 4 * len(names), 48, seed=1)
    assert first.num_classes == len(names) == len(set(names)) and first.class_names == list(names)
    assert torch.bincount(first.train_labels).tolist() == [4] * len(names)
    assert torch.equal(first.train_images, again.train_images) and not torch.equal(first.train_images, other.train_images)
    assert first.train_images.dtype == torch.uint8 and first.train_images.shape[1:] == (3, 48, 48)
    assert first.name == f"synthetic:{variant}"


def test_an_unknown_variant_is_one_line_naming_the_known_ones():
    with pytest.raises(InputError, match="unknown synthetic variant 'nope'; choose one of detail, capacity, context, mixed"):
        load_dataset("synthetic:nope")


def _dominant_frequency(images: torch.Tensor) -> torch.Tensor:
    """The radial frequency (cycles per width) of each image's strongest non-DC Fourier component, on grey levels."""
    grey = images.float().mean(dim=1)
    grey = grey - grey.mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fft2(grey).abs() ** 2
    size = grey.shape[-1]
    k = torch.fft.fftfreq(size, d=1 / size)
    radius = torch.sqrt(k.view(-1, 1) ** 2 + k.view(1, -1) ** 2)
    return radius.flatten()[power.flatten(1).argmax(dim=1)]


def _contrast(images: torch.Tensor) -> torch.Tensor:
    return images.float().mean(dim=1).std(dim=(1, 2))


def test_detail_classes_above_the_base_inputs_nyquist_are_lost_at_the_base_input_and_kept_at_the_source():
    dataset = _images("detail", 200)
    frequencies = torch.tensor(planted.DETAIL_FREQUENCIES)[dataset.train_labels]
    # At the source every class's frequency is what the image holds (±jitter and the FFT's one-cycle bins).
    found = _dominant_frequency(dataset.train_images)
    assert ((found - frequencies).abs() <= frequencies * planted.DETAIL_JITTER + 1.0).float().mean() > 0.95
    # At the base's input (the training's own antialiased resize) stripes above its Nyquist fade into the noise.
    small = resize(dataset.train_images, BASE_PX).float()
    above = frequencies > BASE_PX / 2
    assert 3 <= len(set(frequencies[above].tolist())) <= 5  # the planted share: four of ten classes
    faded, kept = _contrast(small[above]).mean(), _contrast(small[~above & (frequencies < BASE_PX / 3)]).mean()
    assert faded < 0.35 * kept, (faded, kept)


def test_a_grating_the_sampling_grid_cannot_hold_comes_out_grey_not_as_a_coarser_alias():
    # Rendered at 48 px (Nyquist 24 cycles), the 40-cycle class must hold no stripes at all: an alias (40 cycles on a
    # 48 px grid looks like 8) would be a pattern a small input could tell apart, and the planted mechanism would leak.
    dataset = _images("detail", 200, 48)
    finest = dataset.train_labels == len(planted.DETAIL_FREQUENCIES) - 1
    coarse = dataset.train_labels == 0
    assert _contrast(dataset.train_images[finest]).max() < 2 * planted.NOISE_SD * 255  # grey plus pixel noise
    assert _contrast(dataset.train_images[coarse]).min() > 5 * planted.NOISE_SD * 255


def test_capacity_pairs_are_below_the_base_inputs_nyquist_and_differ_only_by_which_bands():
    assert max(planted.CAPACITY_FREQUENCIES) * (1 + planted.CAPACITY_JITTER) < BASE_PX / 2
    assert len(planted.CAPACITY_PAIRS) == len(set(planted.CAPACITY_PAIRS)) == 15
    dataset = _images("capacity", 150)
    small = resize(dataset.train_images, BASE_PX).float()
    # Little is lost at the base's input (every image keeps over half its contrast, where detail's finest classes keep
    # under a third): resolution is not the way to tell them apart.
    assert (_contrast(small) / _contrast(dataset.train_images)).min() > 0.5


def _mark_mask(images: torch.Tensor, colour: int) -> torch.Tensor:
    """Where ``colour`` (0 red, 1 green, 2 blue) dominates: a mark's pixels."""
    pixels = images.float() / 255
    others = [index for index in range(3) if index != colour]
    return (pixels[:, colour] > 0.7) & (pixels[:, others[0]] < 0.35) & (pixels[:, others[1]] < 0.35)


def _mark_pixels(images: torch.Tensor, colour: int) -> torch.Tensor:
    return _mark_mask(images, colour).sum(dim=(1, 2))


def _mark_rows(images: torch.Tensor, colour: int) -> torch.Tensor:
    """The mean row of a mark's pixels, per image."""
    mask = _mark_mask(images, colour)
    rows = torch.arange(images.shape[-1], dtype=torch.float32).view(1, -1, 1)
    return (mask * rows).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1)


def test_context_label_is_the_vertical_order_of_two_far_apart_marks_and_pooled_colour_cannot_tell_it():
    dataset = _images("context", 9 * 30, 48)
    colours = len(planted.MARK_COLOURS)
    upper, lower = dataset.train_labels // colours, dataset.train_labels % colours
    two = upper != lower
    images = dataset.train_images[two]
    upper_row = torch.stack([_mark_rows(images, c) for c in range(3)], dim=1).gather(1, upper[two].view(-1, 1))
    lower_row = torch.stack([_mark_rows(images, c) for c in range(3)], dim=1).gather(1, lower[two].view(-1, 1))
    # Upper above lower by at least a third of the image in every image (MIN_SEPARATION: half, less the disk radius).
    assert ((lower_row - upper_row) > 48 / 3).all()
    # How much of each colour an image holds (what pooling keeps without features that compare the marks) is the same
    # for "red above blue" and "blue above red": one disk of each, of one size. The order is not in it.
    def colour_pixels(images):
        return torch.stack([_mark_pixels(images, c) for c in (0, 2)], dim=1).float().mean(dim=0)

    red_blue = colour_pixels(dataset.train_images[(upper == 0) & (lower == 2)])
    blue_red = colour_pixels(dataset.train_images[(upper == 2) & (lower == 0)])
    assert ((red_blue - blue_red).abs() < 0.05 * red_blue).all(), (red_blue, blue_red)


def test_mixed_label_encodes_all_three_cues():
    names = planted.VARIANTS["mixed"].class_names
    assert len(names) == len(planted.MIXED_DETAIL) * len(planted.MIXED_PAIRS) * 2
    assert all(BASE_PX / 2 < frequency < 64 / 2 for frequency in planted.MIXED_DETAIL)  # lost at 34 px, kept at 64
    dataset = _images("mixed", 12 * 20, 48)
    order = dataset.train_labels // (len(planted.MIXED_DETAIL) * len(planted.MIXED_PAIRS))
    red_above = _mark_rows(dataset.train_images, 0) < _mark_rows(dataset.train_images, 2)
    assert torch.equal(red_above, order == 0)
