"""load_dataset on the offline sources (digits, fake) and its argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas_scaling.data import DATASETS, TensorImageDataset, load_dataset
from nas_scaling.errors import UserError


def test_digits_splits_are_stratified_and_fixed() -> None:
    data = load_dataset("digits", resolution=8, in_channels=1)
    assert data.num_classes == 10 and data.name == "digits"
    assert data.in_memory
    train, val, test = data.sizes()
    assert train + val + test == 1797
    assert abs(train / 1797 - 0.6) < 0.01 and abs(val / 1797 - 0.2) < 0.01
    assert isinstance(data.train, TensorImageDataset)
    assert isinstance(data.val, TensorImageDataset)
    # every class in every split, in about the same share
    for split in (data.train, data.val):
        assert isinstance(split, TensorImageDataset)
        counts = torch.bincount(split.labels, minlength=10).float()
        assert counts.min() > 0 and counts.max() / counts.min() < 1.2
    # the split does not depend on the training seed
    other = load_dataset("digits", resolution=8, in_channels=1, seed=123)
    assert isinstance(other.val, TensorImageDataset)
    assert torch.equal(other.val.images, data.val.images)


def test_digits_resolution_channels_and_normalization() -> None:
    data = load_dataset("digits", resolution=32, in_channels=3)
    assert isinstance(data.train, TensorImageDataset)
    images = data.train.images
    assert images.shape[1:] == (3, 32, 32) and images.dtype == torch.float32
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    # normalized by train statistics
    assert abs(float(images.mean())) < 1e-4
    assert abs(float(images.std()) - 1.0) < 1e-3
    image, label = data.test[0]
    assert image.shape == (3, 32, 32) and isinstance(label, int)


def test_digits_tensors_are_cached_per_shape() -> None:
    a = load_dataset("digits", resolution=12, in_channels=1)
    b = load_dataset("digits", resolution=12, in_channels=1)
    assert a is b
    assert load_dataset("digits", resolution=12, in_channels=3) is not a


def test_fake_is_small_and_deterministic() -> None:
    data = load_dataset("fake", resolution=16, in_channels=1)
    assert data.sizes() == (256, 64, 64)
    assert data.num_classes == 10
    x, y = data.train[3]
    assert x.shape == (1, 16, 16) and 0 <= y < 10
    from nas_scaling.data.sources import load_fake_splits

    load_fake_splits.cache_clear()
    again = load_dataset("fake", resolution=16, in_channels=1)
    assert again is not data
    assert isinstance(again.val, TensorImageDataset) and isinstance(data.val, TensorImageDataset)
    assert torch.equal(again.val.images, data.val.images)
    assert torch.equal(again.val.labels, data.val.labels)


def test_subset_is_stratified_and_seeded() -> None:
    full = load_dataset("digits", resolution=8, in_channels=1)
    half = load_dataset("digits", resolution=8, in_channels=1, subset=0.25, seed=0)
    same = load_dataset("digits", resolution=8, in_channels=1, subset=0.25, seed=0)
    other = load_dataset("digits", resolution=8, in_channels=1, subset=0.25, seed=1)
    assert isinstance(half.train, TensorImageDataset) and isinstance(same.train, TensorImageDataset)
    assert isinstance(other.train, TensorImageDataset)
    assert isinstance(full.train, TensorImageDataset)
    assert abs(len(half.train) - 0.25 * len(full.train)) <= 10
    assert set(half.train.labels.tolist()) == set(range(10))
    assert torch.equal(half.train.images, same.train.images)
    assert not torch.equal(half.train.images, other.train.images)
    assert half.val is full.val and half.test is full.test


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"resolution": 0, "in_channels": 1}, "resolution must be an integer >= 1, got 0"),
        ({"resolution": 8, "in_channels": 2}, "in_channels must be 1 or 3, got 2"),
        ({"resolution": 8, "in_channels": 1, "subset": 0.0}, "subset must be a fraction in (0, 1], got 0.0"),
        ({"resolution": 8, "in_channels": 1, "subset": 1.5}, "subset must be a fraction in (0, 1], got 1.5"),
        ({"resolution": 8, "in_channels": 1, "subset": 0}, "subset must be a fraction in (0, 1], got 0"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(UserError) as info:
        load_dataset("digits", **kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_dataset_lists_choices() -> None:
    with pytest.raises(UserError) as info:
        load_dataset("foo", resolution=8, in_channels=1)
    message = str(info.value)
    assert "'foo'" in message and "imagefolder:PATH" in message
    assert all(name in message for name in DATASETS)
    assert {"digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "svhn", "fake"} <= set(DATASETS)


def test_split_helpers_cover_every_index_once() -> None:
    from nas_scaling.data import stratified_split

    labels = np.repeat(np.arange(7), [3, 10, 11, 1, 50, 2, 9])
    parts = stratified_split(labels, (0.6, 0.2, 0.2))
    joined = np.sort(np.concatenate(parts))
    assert np.array_equal(joined, np.arange(labels.size))
    assert all(np.array_equal(a, b) for a, b in zip(parts, stratified_split(labels, (0.6, 0.2, 0.2)), strict=True))


def test_digits_are_scikit_learns_digits_read_without_importing_it() -> None:
    """The bundled file read directly gives what ``load_digits`` gives; sklearn is not imported."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from nas_scaling.data.sources import digits_arrays

    x, y = digits_arrays()
    expected_x, expected_y = load_digits(return_X_y=True)
    assert x.dtype == expected_x.dtype and y.dtype == expected_y.dtype
    assert np.array_equal(x, expected_x) and np.array_equal(y, expected_y)
    probe = ("import sys; from nas_scaling.data import load_dataset; "
             "load_dataset('digits', resolution=16, in_channels=1); "
             "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
