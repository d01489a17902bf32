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


def _write_mixed_folder(root: Path, per_class: int = 3) -> None:
    """Grayscale (L), palette (P), colour (RGB), RGBA and 16-bit gray images side by side, at two sizes."""
    for split in ("train", "val"):
        for c, colour in enumerate(((200, 30, 30), (20, 20, 220))):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.new("L", (20, 20), 90 + i).save(folder / f"gray{i}.png")
                Image.new("RGB", (24, 24), colour).convert("P").save(folder / f"palette{i}.png")
                Image.new("RGB", (20, 20), colour).save(folder / f"rgb{i}.jpg")
                Image.new("RGBA", (20, 20), (*colour, 128)).save(folder / f"rgba{i}.png")
                Image.fromarray(np.full((20, 20), 40_000, dtype=np.uint16)).save(folder / f"wide{i}.png")


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("in_memory", [True, False])
def test_imagefolder_mixing_gray_palette_and_colour_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, channels: int, in_memory: bool
) -> None:
    _write_mixed_folder(tmp_path)
    if not in_memory:
        monkeypatch.setattr(sources, "MATERIALIZE_LIMIT_BYTES", 0)
    data = load_dataset(f"imagefolder:{tmp_path}", resolution=16, in_channels=channels)
    assert data.sizes() == (30, 15, 15) and data.in_memory == in_memory
    images = torch.stack([data.train[i][0] for i in range(len(data.train))])  # type: ignore[arg-type]
    assert images.shape == (30, channels, 16, 16) and torch.isfinite(images).all()
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (data.normalization.mean, data.normalization.std))
    pixels = images * std + mean
    assert float(pixels.min()) >= -1e-4 and float(pixels.max()) <= 1 + 1e-4
    # 16-bit gray is scaled to 8 bits, not clipped to white: 40000 / 65535 of full scale
    files = sources.image_files(tmp_path / "train")  # ImageFolder's order: the order of the split
    wide = [i for i, path in enumerate(files) if path.name.startswith("wide")]
    assert wide and all(abs(float(pixels[i].mean()) - 40_000 / 65_535) < 0.01 for i in wide)


def test_corrupt_image_is_one_line_naming_the_file(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", 3, (12, 12))
    _write_folder(tmp_path, "val", 2, (12, 12))
    good = (tmp_path / "train" / "dog" / "1.png").read_bytes()
    bad = tmp_path / "train" / "dog" / "1.png"
    bad.write_bytes(good[:40])  # a truncated PNG: the header reads, the pixels do not
    (tmp_path / "val" / "cat" / "junk.png").write_bytes(b"not an image")
    with pytest.raises(UserError) as info:
        load_dataset(f"imagefolder:{tmp_path}", resolution=8, in_channels=3)
    message = str(info.value)
    assert message.startswith(f"cannot read image {bad}: ") and "\n" not in message


def test_corrupt_image_read_in_a_worker_is_still_one_line(tmp_path: Path) -> None:
    """A DataLoader worker re-raises the error as type(exc)(its traceback); the message stays one line."""
    from torch.utils.data import DataLoader

    from nas_scaling.data.preprocess import Normalization, PilTransform

    _write_folder(tmp_path, "train", 2, (12, 12))
    bad = tmp_path / "train" / "cat" / "0.png"
    bad.write_bytes(b"garbage")
    folder = sources._image_folder(
        tmp_path / "train", PilTransform(resolution=8, in_channels=1, norm=Normalization((0.5,), (0.5,)))
    )
    with pytest.raises(sources.ImageReadError) as info:
        list(DataLoader(folder, batch_size=2, num_workers=1))
    message = str(info.value)
    assert message.startswith(f"cannot read image {bad}: ") and "\n" not in message


def test_corrupt_image_through_the_cli_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nas_scaling.cli.main import main

    data = tmp_path / "data"
    _write_folder(data, "train", 3, (12, 12))
    _write_folder(data, "val", 2, (12, 12))
    bad = data / "val" / "cat" / "0.png"
    bad.write_bytes(b"garbage")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    code = main(["train", "lenet5", "--small", "--dataset", f"imagefolder:{data}", "--epochs", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"nas-scaling: error: cannot read image {bad}: ")
