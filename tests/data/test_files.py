"""File-backed datasets: tiny sets in the real on-disk formats read by the real torchvision loaders."""

from __future__ import annotations

import pickle
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nas_scaling.data.sources as sources
from nas_scaling.data import TensorImageDataset, load_dataset
from nas_scaling.data.preprocess import LUMINANCE
from nas_scaling.errors import UserError

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _write_idx(path: Path, array: np.ndarray) -> None:
    """The MNIST idx format: big-endian magic (0, 0, type 0x08 = uint8, ndim), dims, raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_mnist(root: Path, *, train: int = 40, test: int = 10, folder: str = "MNIST") -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        images[0] = 0  # a black image and a white one, to check normalization exactly
        images[1] = 255
        labels = np.arange(count) % 10
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)


def _write_cifar10(root: Path, *, per_batch: int = 10, test: int = 10) -> None:
    """The CIFAR-10 python layout: pickled dicts with 'data' (N x 3072 uint8, RGB planes) and 'labels'."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)

    def batch(count: int, offset: int) -> dict[str, object]:
        data = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
        data[0] = np.concatenate([np.full(1024, 255), np.zeros(2048)]).astype(np.uint8)  # pure red
        return {"batch_label": "x", "labels": [(i + offset) % 10 for i in range(count)], "data": data}

    for i in range(1, 6):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(per_batch, i), f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch(test, 0), f)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}, f)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    sources._materialized_torchvision.cache_clear()


def test_mnist_raw_files_load_at_any_shape(tmp_path: Path) -> None:
    _write_mnist(tmp_path)
    data = load_dataset("mnist", resolution=32, in_channels=3, data_dir=tmp_path)
    assert data.num_classes == 10
    assert data.sizes() == (36, 4, 10)  # 10% of train held out for validation, stratified
    assert isinstance(data.train, TensorImageDataset) and isinstance(data.test, TensorImageDataset)
    assert data.train.images.shape[1:] == (3, 32, 32)
    assert torch.equal(data.test.images[:, 0], data.test.images[:, 2])  # gray replicated
    black, white = data.test.images[0], data.test.images[1]
    assert torch.allclose(black, torch.full_like(black, (0 - MNIST_MEAN) / MNIST_STD))
    assert torch.allclose(white, torch.full_like(white, (1 - MNIST_MEAN) / MNIST_STD), atol=1e-5)
    assert data.test.labels.tolist() == [i % 10 for i in range(10)]


def test_fashion_mnist_uses_its_own_folder(tmp_path: Path) -> None:
    _write_mnist(tmp_path, folder="FashionMNIST")
    data = load_dataset("fashion-mnist", resolution=14, in_channels=1, data_dir=tmp_path)
    x, _ = data.val[0]
    assert x.shape == (1, 14, 14)


def test_large_shapes_stream_through_pil_with_the_same_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_mnist(tmp_path)
    in_memory = load_dataset("mnist", resolution=32, in_channels=1, data_dir=tmp_path)
    monkeypatch.setattr(sources, "MATERIALIZE_LIMIT_BYTES", 0)
    streamed = load_dataset("mnist", resolution=32, in_channels=1, data_dir=tmp_path)
    assert not streamed.in_memory
    assert streamed.sizes() == in_memory.sizes()
    for a, b in ((streamed.test, in_memory.test), (streamed.val, in_memory.val)):
        for i in range(3):
            (xa, ya), (xb, yb) = a[i], b[i]
            assert ya == yb and xa.shape == xb.shape == (1, 32, 32)
            # PIL resamples on uint8, the tensor path in float: a few grey levels apart at most
            assert float((xa - xb).abs().max()) * MNIST_STD < 4 / 255
    sub = load_dataset("mnist", resolution=32, in_channels=1, data_dir=tmp_path, subset=0.5)
    assert len(sub.train) == 18  # type: ignore[arg-type]


def test_cifar10_python_pickles_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.cifar as cifar

    # the real files are checked against published md5 sums, which our tiny files cannot match
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    _write_cifar10(tmp_path)
    rgb = load_dataset("cifar10", resolution=32, in_channels=3, data_dir=tmp_path)
    assert rgb.sizes() == (45, 5, 10)
    assert isinstance(rgb.test, TensorImageDataset)
    assert rgb.test.images.shape == (10, 3, 32, 32)
    red = rgb.test.images[0] * torch.tensor(rgb.normalization.std).view(3, 1, 1) + torch.tensor(
        rgb.normalization.mean
    ).view(3, 1, 1)
    assert torch.allclose(red.mean(dim=(1, 2)), torch.tensor([1.0, 0.0, 0.0]), atol=1e-5)

    gray = load_dataset("cifar10", resolution=16, in_channels=1, data_dir=tmp_path)
    assert isinstance(gray.test, TensorImageDataset)
    assert gray.test.images.shape == (10, 1, 16, 16)
    (mean,), (std,) = gray.normalization.mean, gray.normalization.std
    luminance = gray.test.images[0] * std + mean
    assert torch.allclose(luminance, torch.full_like(luminance, LUMINANCE[0]), atol=1e-5)


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        load_dataset("mnist", resolution=28, in_channels=1, data_dir=tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in message and "--download" in message
    assert "\n" not in message
    with pytest.raises(UserError, match="cifar-10-batches-py"):
        load_dataset("cifar10", resolution=32, in_channels=3, data_dir=tmp_path)


def test_failed_download_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    def offline(self: object) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.SVHN, "download", offline)
    with pytest.raises(UserError) as info:
        load_dataset("svhn", resolution=32, in_channels=3, data_dir=tmp_path, download=True)
    message = str(info.value)
    assert message.startswith("could not download dataset 'svhn' into ") and "\n" not in message


def test_download_is_skipped_when_files_are_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    def offline(self: object) -> None:
        raise AssertionError("should not download")

    monkeypatch.setattr(tvd.MNIST, "download", offline)
    _write_mnist(tmp_path)
    data = load_dataset("mnist", resolution=28, in_channels=1, data_dir=tmp_path, download=True)
    assert data.sizes() == (36, 4, 10)


def _write_folder(root: Path, split: str, per_class: int, size: tuple[int, int]) -> None:
    for cls, color in (("cat", (200, 30, 30)), ("dog", (20, 20, 220))):
        folder = root / split / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", size, color).save(folder / f"{i}.png")


def test_imagefolder_splits_val_in_half(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", 6, (40, 30))
    _write_folder(tmp_path, "val", 4, (30, 50))
    data = load_dataset(f"imagefolder:{tmp_path}", resolution=16, in_channels=1)
    assert data.num_classes == 2 and data.sizes() == (12, 4, 4)
    x, y = data.test[0]
    assert x.shape == (1, 16, 16) and y in (0, 1)
    assert isinstance(data.val, TensorImageDataset)
    assert sorted(data.val.labels.tolist()) == [0, 0, 1, 1]


def test_imagefolder_uses_test_folder_when_present(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", 3, (20, 20))
    _write_folder(tmp_path, "val", 2, (20, 20))
    _write_folder(tmp_path, "test", 5, (20, 20))
    data = load_dataset(f"imagefolder:{tmp_path}", resolution=8, in_channels=3)
    assert data.sizes() == (6, 4, 10)


def test_imagefolder_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'missing'}", resolution=8, in_channels=3)
    _write_folder(tmp_path, "train", 2, (8, 8))
    with pytest.raises(UserError, match="no 'val' folder"):
        load_dataset(f"imagefolder:{tmp_path}", resolution=8, in_channels=3)
    with pytest.raises(UserError, match="needs a path"):
        load_dataset("imagefolder:", resolution=8, in_channels=3)
