"""Dataset loaders on data the tests write themselves: synthetic, image folders, CIFAR binary files."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from scalesearch.data import image_folder
from scalesearch.data.datasets import balanced_indices, load_dataset, stratified_split
from scalesearch.foundation.errors import InputError


# ---------------------------------------------------------------- synthetic

def test_synthetic_is_deterministic_by_seed():
    first = load_dataset("synthetic", proxy_images=60, val_images=30, source_resolution=32, seed=3)
    again = load_dataset("synthetic", proxy_images=60, val_images=30, source_resolution=32, seed=3)
    other = load_dataset("synthetic", proxy_images=60, val_images=30, source_resolution=32, seed=4)
    assert torch.equal(first.train_images, again.train_images) and torch.equal(first.val_labels, again.val_labels)
    assert not torch.equal(first.train_images, other.train_images)
    assert not torch.equal(first.train_images[:30], first.val_images)  # train and validation are different draws


def test_synthetic_is_class_balanced_uint8_at_the_source_resolution():
    dataset = load_dataset("synthetic", proxy_images=200, val_images=100, source_resolution=48)
    assert dataset.train_images.shape == (200, 3, 48, 48) and dataset.train_images.dtype == torch.uint8
    assert dataset.train_labels.dtype == torch.int64
    assert torch.bincount(dataset.train_labels).tolist() == [20] * 10
    assert torch.bincount(dataset.val_labels).tolist() == [10] * 10
    assert dataset.num_classes == len(dataset.class_names) == 10
    assert dataset.describe() == "synthetic: 10 classes, 200 train / 100 val images at 48 px"


def test_synthetic_images_are_not_blank():
    images = load_dataset("synthetic", proxy_images=20, val_images=10, source_resolution=32).train_images.float()
    assert images.std(dim=(1, 2, 3)).min() > 10  # every image has structure, not a flat fill


# ---------------------------------------------------------------- image folders

def write_image(path, mode="RGB", colour=(200, 30, 30), size=(40, 30), suffix_format=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, format=suffix_format)


@pytest.fixture
def mixed_folder(tmp_path):
    """Two classes of 4 readable images (RGB PNG, grayscale PNG, RGBA PNG, JPEG / palette PNG),
    one corrupt JPEG and a text file."""
    root = tmp_path / "pets"
    write_image(root / "cat" / "rgb.png", "RGB", (200, 30, 30))
    write_image(root / "cat" / "gray.png", "L", 77)
    write_image(root / "cat" / "alpha.png", "RGBA", (10, 200, 10, 128))
    write_image(root / "cat" / "photo.JPG", "RGB", (30, 30, 200), size=(80, 60), suffix_format="JPEG")
    for index in range(3):
        write_image(root / "dog" / f"d{index}.jpeg", "RGB", (120, 120, 20 + index), suffix_format="JPEG")
    write_image(root / "dog" / "palette.png", "P", 5)
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (root / "dog" / "notes.txt").write_text("not an image")
    return root


def load_quietly(name, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_dataset(name, **options)
    return dataset, [str(warning.message) for warning in caught]


def test_folder_converts_every_mode_skips_corrupt_files_and_ignores_other_files(mixed_folder):
    dataset, messages = load_quietly(str(mixed_folder), source_resolution=16, seed=0)
    assert dataset.class_names == ["cat", "dog"]
    assert len(dataset.train_labels) + len(dataset.val_labels) == 8  # broken.jpg skipped, notes.txt ignored
    assert dataset.train_images.shape[1:] == (3, 16, 16) and dataset.train_images.dtype == torch.uint8
    assert [message for message in messages if "skipped 1 of 9 image files" in message]
    every = torch.cat([dataset.train_images, dataset.val_images])
    assert any(torch.all(image == 77) for image in every)  # the grayscale image, as three equal channels


def test_decode_image_crops_the_centre_of_the_short_side(tmp_path):
    path = tmp_path / "wide.png"
    pixels = np.zeros((20, 60, 3), np.uint8)
    pixels[:, :15] = 255  # white well outside the centred 20×20 crop (bicubic reads a few pixels beyond it)
    Image.fromarray(pixels).save(path)
    assert image_folder.decode_image(path, 10).max() == 0


def test_folder_split_is_stratified_and_deterministic(tmp_path):
    for label in ("a", "b"):
        for index in range(10):
            write_image(tmp_path / label / f"{index}.png", colour=(index * 20, 0, 0))
    first, _ = load_quietly(str(tmp_path), source_resolution=16, seed=1)
    again, _ = load_quietly(str(tmp_path), source_resolution=16, seed=1)
    assert torch.bincount(first.val_labels).tolist() == [2, 2]  # 20% of each class
    assert torch.bincount(first.train_labels).tolist() == [8, 8]
    assert torch.equal(first.val_images, again.val_images)


def test_folder_with_train_and_val_subfolders_uses_them(tmp_path):
    for split, count in (("train", 3), ("val", 2)):
        for label in ("x", "y"):
            for index in range(count):
                write_image(tmp_path / split / label / f"{index}.png")
    dataset, _ = load_quietly(str(tmp_path), source_resolution=16)
    assert dataset.class_names == ["x", "y"]
    assert torch.bincount(dataset.train_labels).tolist() == [3, 3]
    assert torch.bincount(dataset.val_labels).tolist() == [2, 2]


def test_folder_cache_is_reused_and_invalidated_by_a_new_file(mixed_folder, monkeypatch):
    load_quietly(str(mixed_folder), source_resolution=16)
    assert len(list((mixed_folder / ".scalesearch-cache" / "16px-v2").glob("shard-*.json"))) == 1

    def refuse(path, resolution):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(image_folder, "_decode_file", refuse)
    cached, messages = load_quietly(str(mixed_folder), source_resolution=16)
    assert len(cached.train_labels) + len(cached.val_labels) == 8
    assert [message for message in messages if "skipped 1 of 9 image files" in message]  # the cache remembers it

    monkeypatch.undo()
    decoded = []
    original = image_folder._decode_file
    monkeypatch.setattr(image_folder, "_decode_file", lambda path, size: decoded.append(path) or original(path, size))
    write_image(mixed_folder / "cat" / "new.png")
    grown, _ = load_quietly(str(mixed_folder), source_resolution=16)
    assert len(grown.train_labels) + len(grown.val_labels) == 9
    assert [path.rsplit("/", 2)[-2:] for path in decoded] == [["cat", "new.png"]]  # only the new file


def test_folder_cache_goes_to_cache_dir_when_given(mixed_folder, tmp_path):
    load_quietly(str(mixed_folder), source_resolution=16, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("16px-v2-*/shard-*.json"))) == 1
    assert not (mixed_folder / ".scalesearch-cache").exists()


@pytest.mark.parametrize("layout, message", [
    pytest.param({}, "no class subfolders", id="empty-folder"),
    pytest.param({"loose.png": "image"}, "no class subfolders", id="images-without-class-folders"),
    pytest.param({"only/a.png": "image", "only/b.png": "image"}, "only one class", id="one-class"),
    pytest.param({"a/x.png": "corrupt", "b/y.jpg": "corrupt"}, "none of the 2 image files", id="nothing-usable"),
    pytest.param({"a/x.png": "image", "b/y.png": "image"}, "too few readable images", id="no-validation-possible"),
    pytest.param({"a/x.txt": "text", "b/y.csv": "text"}, "no class subfolders", id="no-image-files"),
])
def test_unusable_folders_raise_one_clear_line(tmp_path, layout, message):
    for relative, kind in layout.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "image":
            write_image(path)
        else:
            path.write_bytes(b"garbage" if kind == "corrupt" else b"text")
    with pytest.raises(InputError, match=message) as error:
        load_quietly(str(tmp_path), source_resolution=16)
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------- CIFAR binary files

def write_cifar10(folder, per_file=4):
    """The official record layout: 1 label byte, then 1,024 red, 1,024 green, 1,024 blue bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    written = {}
    for name in [f"data_batch_{index}.bin" for index in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, per_file, dtype=np.uint8)
        pixels = rng.integers(0, 256, (per_file, 3 * 32 * 32), dtype=np.uint8)
        np.concatenate([labels[:, None], pixels], axis=1).tofile(folder / name)
        written[name] = (labels, pixels.reshape(per_file, 3, 32, 32))
    return written


def test_cifar10_binary_files_are_read_exactly(tmp_path):
    written = write_cifar10(tmp_path / "cifar-10-batches-bin")
    dataset = load_dataset(f"cifar10:{tmp_path}", source_resolution=32)  # the parent folder works too
    train_labels = np.concatenate([written[f"data_batch_{index}.bin"][0] for index in range(1, 6)])
    assert dataset.train_labels.tolist() == train_labels.tolist()
    assert np.array_equal(dataset.val_images.numpy(), written["test_batch.bin"][1])
    assert np.array_equal(dataset.train_images[:4].numpy(), written["data_batch_1.bin"][1])
    assert dataset.class_names[0] == "airplane" and dataset.num_classes == 10
    assert dataset.source_resolution == 32


def test_cifar_is_upsampled_only_above_32_px(tmp_path):
    write_cifar10(tmp_path / "cifar-10-batches-bin")
    assert load_dataset(f"cifar10:{tmp_path}/cifar-10-batches-bin", source_resolution=16).source_resolution == 32
    bigger = load_dataset(f"cifar10:{tmp_path}/cifar-10-batches-bin", source_resolution=48)
    assert bigger.train_images.shape[1:] == (3, 48, 48) and bigger.source_resolution == 48


def test_cifar100_uses_the_fine_label(tmp_path):
    rng = np.random.default_rng(1)
    for name in ("train.bin", "test.bin"):
        coarse = rng.integers(0, 20, 6, dtype=np.uint8)
        fine = rng.integers(20, 100, 6, dtype=np.uint8)
        pixels = rng.integers(0, 256, (6, 3072), dtype=np.uint8)
        np.concatenate([coarse[:, None], fine[:, None], pixels], axis=1).tofile(tmp_path / name)
        if name == "train.bin":
            expected = fine
    dataset = load_dataset(f"cifar100:{tmp_path}", source_resolution=32)
    assert dataset.num_classes == 100
    assert dataset.train_labels.tolist() == expected.tolist()


@pytest.mark.parametrize("name, message", [
    pytest.param("cifar10:{tmp}", "does not hold the CIFAR-10 binary version", id="cifar10-empty-path"),
    pytest.param("cifar100:{tmp}/missing", "does not hold the CIFAR-100 binary version", id="cifar100-missing"),
    pytest.param("imagenet", "unknown dataset", id="unknown-name"),
    pytest.param("{tmp}/no-such-folder", "^no folder .*/no-such-folder; --data takes a folder", id="missing-folder"),
    pytest.param("./no-such-folder", "^no folder ./no-such-folder;", id="missing-relative-folder"),
    pytest.param("{tmp}/a-file", "^.*/a-file is a file; --data takes a folder", id="a-file"),
])
def test_bad_dataset_names_raise_one_clear_line(tmp_path, name, message):
    (tmp_path / "a-file").write_text("not a dataset")
    with pytest.raises(InputError, match=message):
        load_dataset(name.format(tmp=tmp_path))


def test_truncated_cifar_file_is_rejected(tmp_path):
    write_cifar10(tmp_path)
    with open(tmp_path / "test_batch.bin", "ab") as handle:
        handle.write(b"\x00" * 100)
    with pytest.raises(InputError, match="not a multiple of the 3073-byte record"):
        load_dataset(f"cifar10:{tmp_path}")


@pytest.mark.parametrize("options, message", [
    pytest.param({"source_resolution": 8}, "too small", id="source-resolution"),
    pytest.param({"proxy_images": 5}, "fewer than the 10 classes", id="fewer-images-than-classes"),
    pytest.param({"val_images": 1}, "at least 2", id="validation-of-one"),
])
def test_bad_sizes_raise(options, message):
    with pytest.raises(InputError, match=message):
        load_dataset("synthetic", **options)


# ---------------------------------------------------------------- subsets and splits

def test_proxy_images_takes_a_balanced_deterministic_subset(tmp_path):
    write_cifar10(tmp_path, per_file=40)  # 200 training images, unevenly spread over 10 classes
    subset = load_dataset(f"cifar10:{tmp_path}", proxy_images=50, val_images=20, seed=5)
    again = load_dataset(f"cifar10:{tmp_path}", proxy_images=50, val_images=20, seed=5)
    counts = torch.bincount(subset.train_labels, minlength=10)
    assert len(subset.train_labels) == 50 and counts.max() - counts.min() <= 1
    assert len(subset.val_labels) == 20
    assert torch.equal(subset.train_images, again.train_images)


def test_balanced_indices_fill_from_larger_classes_when_one_runs_out():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 5)
    chosen = balanced_indices(labels, 30, seed=0)
    counts = sorted(np.bincount(labels[chosen]).tolist())
    assert counts == [5, 12, 13]
    assert len(set(chosen.tolist())) == 30
    assert np.array_equal(chosen, balanced_indices(labels, 30, seed=0))


def test_stratified_split_keeps_single_image_classes_in_training():
    labels = np.array([0] * 10 + [1])
    train, val = stratified_split(labels, 0.2, seed=0)
    assert sorted(train.tolist() + val.tolist()) == list(range(11))
    assert labels[val].tolist() == [0, 0]
