"""Inputs follow the data: a network (or a search space's reference) fitted to a dataset's channels and
classes, at the network's resolution unless another one is asked for, with the lines that say so."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_scaling.data import DatasetInfo, describe_inputs, inspect_dataset, resize_warning
from nas_scaling.errors import SpecError, UserError
from nas_scaling.spec import NetworkSpec
from nas_scaling.spec.adapt import adapt_inputs

__all__ = ["DataOptions", "Inputs", "check_subset", "dataset_label", "dataset_ref", "fit_to_data"]


@dataclass(frozen=True, kw_only=True)
class DataOptions:
    """What an experiment's candidates train on, and how: the options grid and search share."""

    seed: int = 0
    dataset: str = "digits"
    data_dir: str | None = None
    subset: float = 1.0
    """Stratified, seeded fraction of the training split each candidate trains on."""
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig fields of the proxy runs (defaults: TrainConfig's)."""
    inputs: tuple[str, ...] = ()
    """What the networks are fed, as lines to print once the options are checked (:meth:`Inputs.lines`)."""


@dataclass(frozen=True)
class Inputs:
    """What a run's networks are fed: the dataset, its native form, and the channels and side trained at."""

    dataset: str
    info: DatasetInfo
    channels: int
    resolution: int
    notes: tuple[str, ...] = ()
    """One line per adaptation of the network (stem channels, resolution)."""

    @property
    def label(self) -> str:
        """Short dataset name for study and run names (an image folder's own folder name)."""
        return self.info.label

    @property
    def shape(self) -> str:
        return f"{self.channels}x{self.resolution}x{self.resolution}"

    def lines(self) -> list[str]:
        """What the command prints: the adaptations, the inputs line, a resize warning if any."""
        warning = resize_warning(self.info, self.resolution)
        return [*self.notes, describe_inputs(self.info, channels=self.channels, resolution=self.resolution),
                *([warning] if warning else [])]


def fit_to_data(spec: NetworkSpec, dataset: str, *, data_dir: str | Path | None = None,
                resolution: int | None = None) -> tuple[NetworkSpec, Inputs]:
    """``spec`` with the dataset's input channels and classes, at ``resolution`` (default: its own)."""
    info = inspect_dataset(dataset, data_dir=None if data_dir is None else Path(data_dir))
    try:
        fitted, notes = adapt_inputs(spec, in_channels=info.channels, num_classes=info.num_classes,
                                     resolution=resolution)
    except SpecError as exc:
        raise UserError(f"--resolution {resolution} does not fit {spec.name}: {exc}") from None
    return fitted, Inputs(dataset, info, fitted.in_channels, fitted.resolution, tuple(notes))


def check_subset(subset: float) -> float:
    """``subset`` if it is a fraction in (0, 1], else a one-line UserError."""
    if isinstance(subset, bool) or not isinstance(subset, int | float) or not 0 < subset <= 1:
        raise UserError(f"subset must be a fraction in (0, 1], got {subset!r}")
    return float(subset)


def dataset_label(dataset: str) -> str:
    """The short name of ``dataset`` in study and run names: an image folder's own folder name
    (``cifar10-dev`` for ``imagefolder:/data/cifar10-dev``), else the dataset name."""
    from nas_scaling.data import IMAGEFOLDER_PREFIX

    if dataset.startswith(IMAGEFOLDER_PREFIX) and len(dataset) > len(IMAGEFOLDER_PREFIX):
        path = Path(dataset[len(IMAGEFOLDER_PREFIX):]).expanduser()
        return path.resolve().name or str(path)
    return dataset


def dataset_ref(dataset: str, *, subset: float = 1.0, seed: int = 0) -> dict[str, str]:
    """What a run logs as its dataset input: the short name, a digest of what picks the images (the
    dataset, and the subset and its seed), and the source (an image folder's path, else the name)."""
    import hashlib

    from nas_scaling.data import IMAGEFOLDER_PREFIX

    picked = f"{dataset}|subset={subset:g}|seed={seed}" if subset != 1.0 else dataset
    source = dataset[len(IMAGEFOLDER_PREFIX):] if dataset.startswith(IMAGEFOLDER_PREFIX) else dataset
    name = dataset_label(dataset) + (f"-{subset:g}" if subset != 1.0 else "")
    return {"name": name, "digest": hashlib.sha256(picked.encode()).hexdigest()[:8], "source": source}
