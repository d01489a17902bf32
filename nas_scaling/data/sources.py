"""One loader per dataset source: bundled digits, FakeData, torchvision sets, an image folder.

Each loader returns full-size train/val/test splits; :func:`nas_scaling.data.load_dataset`
validates arguments and applies ``subset``.
"""

from __future__ import annotations

import functools
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset

from nas_scaling.data.base import DatasetSplits
from nas_scaling.data.preprocess import (
    Normalization,
    PilTransform,
    TensorImageDataset,
    channel_stats,
    convert_channels,
    preprocess_uint8,
    resize,
)
from nas_scaling.data.splits import stratified_split
from nas_scaling.errors import UserError

__all__ = [
    "IMAGE_SUFFIXES",
    "MATERIALIZE_LIMIT_BYTES",
    "TORCHVISION_SETS",
    "ImageReadError",
    "check_imagefolder_layout",
    "digits_arrays",
    "image_files",
    "load_digits_splits",
    "load_fake_splits",
    "load_imagefolder_splits",
    "load_torchvision_splits",
    "read_image",
    "read_image_header",
]

#: Datasets whose preprocessed float32 tensors (all splits) fit in this many bytes are held in
#: memory; larger ones are decoded per item by a DataLoader.
MATERIALIZE_LIMIT_BYTES = 2 * 1024**3

#: Share of the official train split held out as the validation set of torchvision datasets.
VAL_FRACTION = 0.1

IMAGENET_NORM = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class _TorchvisionSet:
    cls: str
    folder: str  # where torchvision looks under the root, for error messages
    size: int  # train + test images of the full dataset, for the memory estimate
    norm: Normalization
    num_classes: int


TORCHVISION_SETS: dict[str, _TorchvisionSet] = {
    "mnist": _TorchvisionSet("MNIST", "MNIST/raw", 70_000, Normalization((0.1307,), (0.3081,)), 10),
    "fashion-mnist": _TorchvisionSet(
        "FashionMNIST", "FashionMNIST/raw", 70_000, Normalization((0.2860,), (0.3530,)), 10
    ),
    "cifar10": _TorchvisionSet(
        "CIFAR10",
        "cifar-10-batches-py",
        60_000,
        Normalization((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
        10,
    ),
    "cifar100": _TorchvisionSet(
        "CIFAR100",
        "cifar-100-python",
        60_000,
        Normalization((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
        100,
    ),
    "svhn": _TorchvisionSet(
        "SVHN",
        "train_32x32.mat and test_32x32.mat",
        99_289,
        Normalization((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
        10,
    ),
}


def _fits(count: int, *, resolution: int, in_channels: int) -> bool:
    return count * in_channels * resolution * resolution * 4 <= MATERIALIZE_LIMIT_BYTES


def _normalize(images: torch.Tensor, norm: Normalization) -> torch.Tensor:
    mean = torch.tensor(norm.mean, dtype=images.dtype).view(1, -1, 1, 1)
    std = torch.tensor(norm.std, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - mean) / std


def _splits(
    name: str,
    num_classes: int,
    resolution: int,
    in_channels: int,
    norm: Normalization,
    parts: tuple[Dataset[Any], Dataset[Any], Dataset[Any]],
) -> DatasetSplits:
    train, val, test = parts
    return DatasetSplits(
        name=name,
        num_classes=num_classes,
        resolution=resolution,
        in_channels=in_channels,
        train=train,
        val=val,
        test=test,
        normalization=norm,
    )


# --------------------------------------------------------------------------- digits


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as ``load_digits(return_X_y=True)`` gives them: (1797, 64) float pixels
    0-16 and (1797,) int labels, read from the file scikit-learn bundles (``digits.csv.gz``, the
    last column the label) as ``load_digits`` reads it. Importing ``sklearn.datasets`` (and SciPy
    with it) for that costs about 2 s, in the driver and in every worker process of a search; the
    file itself loads in 0.05 s. Where the file is not at its place, ``load_digits`` is used."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(roots[0], "datasets", "data", "digits.csv.gz") if roots else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return x, y
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int, copy=False)


@functools.lru_cache(maxsize=8)
def load_digits_splits(resolution: int, in_channels: int) -> DatasetSplits:
    """scikit-learn's 1797 8x8 digits, split 60/20/20 (stratified, fixed), normalized by train stats.

    Cached per (resolution, in_channels): a search trains hundreds of candidates on it.
    """
    x, y = digits_arrays()
    images = torch.from_numpy(x.astype(np.float32)).view(-1, 1, 8, 8) / 16.0
    images = resize(convert_channels(images, in_channels), resolution).contiguous()
    labels = torch.from_numpy(y.astype(np.int64))
    train_idx, val_idx, test_idx = stratified_split(y, (0.6, 0.2, 0.2))
    norm = channel_stats(images[torch.from_numpy(train_idx)])
    full = TensorImageDataset(_normalize(images, norm), labels)
    parts = (full.select(train_idx), full.select(val_idx), full.select(test_idx))
    return _splits("digits", 10, resolution, in_channels, norm, parts)


# --------------------------------------------------------------------------- fake

FAKE_SIZES = (256, 64, 64)
FAKE_CLASSES = 10


@functools.lru_cache(maxsize=4)
def load_fake_splits(resolution: int, in_channels: int) -> DatasetSplits:
    """torchvision FakeData: 256/64/64 random images of 10 classes, the same on every call.

    Labels are random, so nothing is learnable: it exercises the pipeline, not the model.
    """
    from torchvision.datasets import FakeData
    from torchvision.transforms import ToTensor

    tensors = []
    offset = 0
    for size in FAKE_SIZES:
        fake = FakeData(
            size=size,
            image_size=(in_channels, resolution, resolution),
            num_classes=FAKE_CLASSES,
            transform=ToTensor(),
            random_offset=offset,
        )
        offset += size
        items = [fake[i] for i in range(size)]
        images = torch.stack([img for img, _ in items])
        labels = torch.tensor([int(label) for _, label in items], dtype=torch.long)
        tensors.append((images, labels))
    norm = channel_stats(tensors[0][0])
    train, val, test = (TensorImageDataset(_normalize(x, norm), y) for x, y in tensors)
    return _splits("fake", FAKE_CLASSES, resolution, in_channels, norm, (train, val, test))


# --------------------------------------------------------------------------- torchvision


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _open_torchvision(info: _TorchvisionSet, root: Path, *, download: bool, transform: Any = None) -> tuple[Any, Any]:
    """Open the official train and test splits; map every failure to a one-line UserError."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, info.cls)
    name = next(k for k, v in TORCHVISION_SETS.items() if v is info)
    try:
        if info.cls == "SVHN":
            train = cls(str(root), split="train", download=download, transform=transform)
            test = cls(str(root), split="test", download=download, transform=transform)
        else:
            train = cls(str(root), train=True, download=download, transform=transform)
            test = cls(str(root), train=False, download=download, transform=transform)
    except (RuntimeError, OSError, ValueError, EOFError, TypeError, pickle.UnpicklingError) as exc:
        if download:
            raise UserError(f"could not download dataset '{name}' into {root}: {_first_line(exc)}") from exc
        raise UserError(
            f"dataset '{name}' not found or unreadable in {root / info.folder}; pass --download to "
            f"fetch it or --data-dir to point at it ({_first_line(exc)})"
        ) from exc
    return train, test


def _raw_arrays(ds: Any) -> tuple[torch.Tensor, np.ndarray]:
    """uint8 ``N x C x H x W`` images and integer labels of a torchvision set, without PIL."""
    data = ds.data
    if isinstance(data, torch.Tensor):  # MNIST, FashionMNIST: N x H x W
        images = data.unsqueeze(1)
        labels = np.asarray(ds.targets)
    elif data.ndim == 4 and data.shape[-1] == 3:  # CIFAR: N x H x W x C
        images = torch.from_numpy(data).permute(0, 3, 1, 2)
        labels = np.asarray(ds.targets)
    else:  # SVHN: N x C x H x W
        images = torch.from_numpy(data)
        labels = np.asarray(ds.labels)
    return images, labels.astype(np.int64).reshape(-1)


@functools.lru_cache(maxsize=1)
def _materialized_torchvision(
    name: str, root: str, resolution: int, in_channels: int
) -> tuple[TensorImageDataset, TensorImageDataset, Normalization]:
    """Full train and test sets as preprocessed tensors; cached for the next trial in-process."""
    info = TORCHVISION_SETS[name]
    train_ds, test_ds = _open_torchvision(info, Path(root), download=False)
    norm = info.norm.to_channels(in_channels)
    out = []
    for ds in (train_ds, test_ds):
        images, labels = _raw_arrays(ds)
        pixels = preprocess_uint8(images, resolution=resolution, in_channels=in_channels, norm=norm)
        out.append(TensorImageDataset(pixels, torch.from_numpy(labels)))
    return out[0], out[1], norm


def load_torchvision_splits(
    name: str, *, root: Path, download: bool, resolution: int, in_channels: int
) -> DatasetSplits:
    """A torchvision dataset: val is a fixed stratified 10% of train, test the official test split.

    Reads what is on disk first; only when that fails and ``download`` is set does it fetch.
    """
    try:
        return _torchvision_splits(name, root=root, resolution=resolution, in_channels=in_channels)
    except UserError:
        if not download:
            raise
    _open_torchvision(TORCHVISION_SETS[name], root, download=True)
    return _torchvision_splits(name, root=root, resolution=resolution, in_channels=in_channels)


def _torchvision_splits(name: str, *, root: Path, resolution: int, in_channels: int) -> DatasetSplits:
    info = TORCHVISION_SETS[name]
    norm = info.norm.to_channels(in_channels)
    if _fits(info.size, resolution=resolution, in_channels=in_channels):
        train_full, test, norm = _materialized_torchvision(name, str(root.resolve()), resolution, in_channels)
        train_idx, val_idx = stratified_split(train_full.labels.numpy(), (1 - VAL_FRACTION, VAL_FRACTION))
        parts: tuple[Dataset[Any], Dataset[Any], Dataset[Any]] = (
            train_full.select(train_idx),
            train_full.select(val_idx),
            test,
        )
    else:
        transform = PilTransform(resolution=resolution, in_channels=in_channels, norm=norm)
        train_ds, test_ds = _open_torchvision(info, root, download=False, transform=transform)
        _, labels = _raw_arrays(train_ds)
        train_idx, val_idx = stratified_split(labels, (1 - VAL_FRACTION, VAL_FRACTION))
        parts = (
            _LabeledSubset(train_ds, train_idx, labels[train_idx]),
            _LabeledSubset(train_ds, val_idx, labels[val_idx]),
            test_ds,
        )
    return _splits(name, info.num_classes, resolution, in_channels, norm, parts)


class _LabeledSubset(Subset[Any]):
    """A Subset that remembers its labels, so ``subset`` can stratify without decoding images."""

    def __init__(self, dataset: Dataset[Any], indices: np.ndarray, labels: np.ndarray) -> None:
        super().__init__(dataset, indices.tolist())
        self.labels = labels


def labels_of(ds: Dataset[Any]) -> np.ndarray | None:
    """Integer labels of a split when known without decoding images, else None."""
    if isinstance(ds, TensorImageDataset):
        return ds.labels.numpy()
    if isinstance(ds, _LabeledSubset):
        return ds.labels
    targets = getattr(ds, "targets", None)
    return None if targets is None else np.asarray(targets).reshape(-1)


def take(ds: Dataset[Any], indices: np.ndarray) -> Dataset[Any]:
    """Rows ``indices`` of a split, keeping it tensor-backed when it was."""
    if isinstance(ds, TensorImageDataset):
        return ds.select(indices)
    labels = labels_of(ds)
    if isinstance(ds, _LabeledSubset):
        base = np.asarray(ds.indices)[indices]
        return _LabeledSubset(ds.dataset, base, ds.labels[indices])
    if labels is not None:
        return _LabeledSubset(ds, indices, labels[indices])
    return Subset(ds, indices.tolist())


# --------------------------------------------------------------------------- image folder

#: What torchvision's ImageFolder counts as an image (lower-case file suffixes).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WIDE_GRAY = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


class ImageReadError(UserError):
    """An image file that cannot be decoded: ``cannot read image PATH: REASON``.

    A DataLoader worker re-raises a failure in the main process as ``type(exc)(text)``, where the
    text is the worker's whole traceback; keeping only its last line keeps the message one line.
    """

    def __init__(self, message: str) -> None:
        lines = message.strip().splitlines() or [message]
        last, marker = lines[-1], f"{type(self).__name__}: "
        super().__init__(last.split(marker, 1)[1] if marker in last else last)


def read_image(path: str) -> Image.Image:
    """ImageFolder's loader: the decoded image in its own mode (L, P, RGB, ...), or an ImageReadError.

    :class:`PilTransform` then converts every image to the mode asked for, so a folder mixing
    grayscale, palette and colour images loads at 1 or 3 channels alike.
    """
    image: Image.Image
    try:
        with open(path, "rb") as f:
            image = Image.open(f)
            image.load()
    except _IMAGE_ERRORS as exc:
        raise ImageReadError(f"cannot read image {path}: {_first_line(exc)}") from None
    if image.mode in _WIDE_GRAY:  # 16-bit or float gray: PIL's convert("L") would clip, so scale
        pixels = np.asarray(image, dtype=np.float64)
        pixels = pixels * 255 if image.mode == "F" and pixels.max(initial=0) <= 1 else pixels / 257
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")
    return image


def read_image_header(path: Path) -> tuple[bool, tuple[int, int]]:
    """``(in colour, (width, height))`` of an image file from its header; palette images are decoded
    (they are colour only when their pixels are). Raises :class:`ImageReadError`."""
    try:
        with Image.open(path) as image:
            size = image.size
            if image.mode in _GRAY_MODES:
                return False, size
            if image.mode not in ("P", "PA"):
                return True, size
            rgb = np.asarray(image.convert("RGB"))
    except _IMAGE_ERRORS as exc:
        raise ImageReadError(f"cannot read image {path}: {_first_line(exc)}") from None
    colour = bool((rgb[..., 0] != rgb[..., 1]).any() or (rgb[..., 1] != rgb[..., 2]).any())
    return colour, size


def image_files(folder: Path, *, limit: int | None = None) -> list[Path]:
    """Image files under ``folder`` in ImageFolder's order (sorted walk), the first ``limit`` of them."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES):
                found.append(Path(root) / name)
                if limit is not None and len(found) >= limit:
                    return found
    return found


def check_imagefolder_layout(path: Path) -> None:
    """Refuse, in one line, a folder without ``train`` and ``val`` subfolders."""
    if not path.is_dir():
        raise UserError(f"image folder {path} does not exist; expected {path}/train and {path}/val")
    for sub in ("train", "val"):
        if not (path / sub).is_dir():
            raise UserError(
                f"image folder {path} has no '{sub}' folder; expected {path}/train/<class>/<image> "
                f"and {path}/val/<class>/<image>"
            )


def _image_folder(path: Path, transform: Any) -> Any:
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(path), transform=transform, loader=read_image)
    except (FileNotFoundError, OSError) as exc:
        raise UserError(f"cannot read image folder {path}: {_first_line(exc)}") from exc


def _stack(ds: Dataset[Any], labels: np.ndarray) -> TensorImageDataset:
    """Decode every image once (in parallel workers) into one tensor."""
    workers = min(8, os.cpu_count() or 1)
    loader = DataLoader(ds, batch_size=256, num_workers=workers if len(labels) > 512 else 0)
    images = torch.cat([batch for batch, _ in loader]) if len(labels) else torch.zeros(0)
    return TensorImageDataset(images, torch.from_numpy(labels))


def load_imagefolder_splits(path: Path, *, resolution: int, in_channels: int) -> DatasetSplits:
    """ImageNet layout: ``path/train/<class>/*``, ``path/val/<class>/*``, optional ``path/test``.

    Without ``path/test``, val is split in half (stratified, fixed) into val and test.
    Images are resized (shorter side) and center-cropped to ``resolution``; ImageNet statistics.
    """
    label = f"imagefolder:{path}"
    check_imagefolder_layout(path)
    norm = IMAGENET_NORM.to_channels(in_channels)
    transform = PilTransform(resolution=resolution, in_channels=in_channels, norm=norm)
    train = _image_folder(path / "train", transform)
    val = _image_folder(path / "val", transform)
    has_test = (path / "test").is_dir()
    test = _image_folder(path / "test", transform) if has_test else None
    for other, sub in ((val, "val"), (test, "test")):
        if other is not None and other.classes != train.classes:
            raise UserError(
                f"image folder {path}/{sub} has classes {other.classes[:5]}... but train has "
                f"{train.classes[:5]}...; both need the same class folders"
            )
    count = len(train) + len(val) + (len(test) if test is not None else 0)
    in_memory = _fits(count, resolution=resolution, in_channels=in_channels)
    sets: list[Dataset[Any]] = []
    for ds in (train, val, test):
        if ds is None:
            continue
        labels = np.asarray(ds.targets, dtype=np.int64)
        sets.append(_stack(ds, labels) if in_memory else _LabeledSubset(ds, np.arange(len(ds)), labels))
    if test is None:
        val_labels = labels_of(sets[1])
        assert val_labels is not None
        val_idx, test_idx = stratified_split(val_labels, (0.5, 0.5))
        sets = [sets[0], take(sets[1], val_idx), take(sets[1], test_idx)]
    return _splits(label, len(train.classes), resolution, in_channels, norm, (sets[0], sets[1], sets[2]))
