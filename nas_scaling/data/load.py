"""``load_dataset``: the one entry point that turns a dataset name into train/val/test splits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nas_scaling.data.base import DatasetSplits
from nas_scaling.data.sources import (
    TORCHVISION_SETS,
    labels_of,
    load_digits_splits,
    load_fake_splits,
    load_imagefolder_splits,
    load_torchvision_splits,
    take,
)
from nas_scaling.data.splits import stratified_subset
from nas_scaling.errors import UserError

__all__ = ["DATASETS", "IMAGEFOLDER_PREFIX", "default_data_dir", "load_dataset"]

IMAGEFOLDER_PREFIX = "imagefolder:"

#: Known dataset names, for the CLI; ``imagefolder:PATH`` is accepted too.
DATASETS: tuple[str, ...] = ("digits", "fake", *TORCHVISION_SETS)


def default_data_dir() -> Path:
    """Where torchvision datasets live when no ``data_dir`` is given."""
    return Path.home() / ".cache" / "nas-scaling" / "data"


def _check_args(name: str, resolution: int, in_channels: int, subset: float) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise UserError(f"resolution must be an integer >= 1, got {resolution!r}")
    if in_channels not in (1, 3) or isinstance(in_channels, bool):
        raise UserError(f"in_channels must be 1 or 3, got {in_channels!r}")
    if isinstance(subset, bool) or not isinstance(subset, (int, float)) or not 0 < subset <= 1:
        raise UserError(f"subset must be a fraction in (0, 1], got {subset!r}")
    if name not in DATASETS and not name.startswith(IMAGEFOLDER_PREFIX):
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or imagefolder:PATH")
    if name == IMAGEFOLDER_PREFIX:
        raise UserError("dataset 'imagefolder:' needs a path, e.g. imagefolder:/data/imagenet")


def load_dataset(
    name: str,
    *,
    resolution: int,
    in_channels: int,
    data_dir: Path | None = None,
    download: bool = False,
    seed: int = 0,
    subset: float = 1.0,
) -> DatasetSplits:
    """Load ``name`` as train/val/test splits of ``in_channels x resolution x resolution`` images.

    The train/val/test split is fixed (it does not depend on ``seed``); ``seed`` only picks which
    ``subset`` fraction of the training split is kept (stratified by class). torchvision sets are
    read from ``data_dir`` (default :func:`default_data_dir`) and fetched only when ``download``.
    """
    _check_args(name, resolution, in_channels, subset)
    if name == "digits":
        splits = load_digits_splits(resolution, in_channels)
    elif name == "fake":
        splits = load_fake_splits(resolution, in_channels)
    elif name.startswith(IMAGEFOLDER_PREFIX):
        path = Path(name[len(IMAGEFOLDER_PREFIX) :]).expanduser()
        splits = load_imagefolder_splits(path, resolution=resolution, in_channels=in_channels)
    else:
        root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        splits = load_torchvision_splits(
            name, root=root, download=download, resolution=resolution, in_channels=in_channels
        )
    if subset < 1.0:
        labels = labels_of(splits.train)
        if labels is None:  # pragma: no cover - every loader keeps labels
            raise RuntimeError(f"cannot subset {name}: training labels unknown")
        splits = dataclasses.replace(splits, train=take(splits.train, stratified_subset(labels, subset, seed=seed)))
    return splits
