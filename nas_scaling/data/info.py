"""What a dataset is before any conversion: its native channels, image size and classes.

The runners take the network's input channels from here and print what the inputs are, so that
a resize or a colour conversion is never silent. Cheap: known datasets are constants, an image
folder is judged from the headers of a small sample of its files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nas_scaling.data.load import DATASETS, IMAGEFOLDER_PREFIX
from nas_scaling.data.sources import TORCHVISION_SETS, check_imagefolder_layout, image_files, read_image_header
from nas_scaling.errors import UserError

__all__ = ["SAMPLE_SIZE", "DatasetInfo", "describe_inputs", "inspect_dataset", "resize_warning"]

#: How many files of an image folder's training split :func:`inspect_dataset` reads headers of.
SAMPLE_SIZE = 64


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's native form.

    ``label`` is the short name for display and study names: the folder's own name for an image
    folder (``cifar10-dev`` for ``imagefolder:/data/cifar10-dev``), else the dataset name.
    ``channels`` is 1 or 3. ``resolution`` is the native side of the square images, or None when the
    images are not square or have no one size (``fake`` is generated at whatever size is asked).
    """

    name: str
    label: str
    channels: int
    resolution: int | None
    num_classes: int

    @property
    def source(self) -> str:
        """``imagefolder:<label>`` for an image folder, else the dataset name: for one-line messages."""
        return f"{IMAGEFOLDER_PREFIX}{self.label}" if self.name.startswith(IMAGEFOLDER_PREFIX) else self.name


# name -> (channels, resolution, classes) of the datasets with a fixed form
_KNOWN: dict[str, tuple[int, int | None, int]] = {
    "digits": (1, 8, 10),
    "fake": (3, None, 10),  # FakeData draws RGB images at the size it is asked for
    "mnist": (1, 28, TORCHVISION_SETS["mnist"].num_classes),
    "fashion-mnist": (1, 28, TORCHVISION_SETS["fashion-mnist"].num_classes),
    "cifar10": (3, 32, TORCHVISION_SETS["cifar10"].num_classes),
    "cifar100": (3, 32, TORCHVISION_SETS["cifar100"].num_classes),
    "svhn": (3, 32, TORCHVISION_SETS["svhn"].num_classes),
}


def inspect_dataset(name: str, *, data_dir: Path | None = None) -> DatasetInfo:
    """The native form of dataset ``name`` (a name of ``DATASETS`` or ``imagefolder:PATH``).

    Known datasets are constants (``data_dir`` is not read). For an image folder, the classes are the
    class folders of ``train``, and the channels and size come from the headers of up to
    :data:`SAMPLE_SIZE` training images taken in turn from each class (no image is decoded):
    3 channels if any sampled image is in colour (a folder mixing grayscale and colour images is
    loaded as colour), else 1; the resolution is the most common (width, height) of the sample
    (the first one seen on a tie) when it is square, else None.
    """
    del data_dir  # known datasets have a fixed form; kept for the day one is read from disk
    if name in _KNOWN:
        channels, resolution, classes = _KNOWN[name]
        return DatasetInfo(name, name, channels, resolution, classes)
    if not name.startswith(IMAGEFOLDER_PREFIX):
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or imagefolder:PATH")
    if name == IMAGEFOLDER_PREFIX:
        raise UserError("dataset 'imagefolder:' needs a path, e.g. imagefolder:/data/imagenet")
    path = Path(name[len(IMAGEFOLDER_PREFIX) :]).expanduser()
    return _inspect_folder(name, path)


def _inspect_folder(name: str, path: Path) -> DatasetInfo:
    check_imagefolder_layout(path)
    classes = sorted(d for d in (path / "train").iterdir() if d.is_dir())
    if not classes:
        raise UserError(f"image folder {path}/train has no class folders; expected {path}/train/<class>/<image>")
    per_class = [image_files(d, limit=SAMPLE_SIZE) for d in classes]
    sample: list[Path] = []
    for depth in range(SAMPLE_SIZE):
        sample += [files[depth] for files in per_class if depth < len(files)]
        if len(sample) >= SAMPLE_SIZE or all(depth >= len(files) for files in per_class):
            break
    if not sample:
        raise UserError(f"image folder {path}/train has no image files (.png, .jpg, ...) in its class folders")
    headers = [read_image_header(f) for f in sample[:SAMPLE_SIZE]]
    channels = 3 if any(colour for colour, _ in headers) else 1
    (width, height), _ = Counter(size for _, size in headers).most_common(1)[0]
    label = path.resolve().name or str(path)
    return DatasetInfo(name, label, channels, width if width == height else None, len(classes))


def _side(resolution: int | None) -> str:
    return "unknown size" if resolution is None else f"{resolution}x{resolution}"


def describe_inputs(info: DatasetInfo, *, channels: int, resolution: int) -> str:
    """One line saying what the network is fed: ``inputs 3x32x32 from imagefolder:cifar10-dev (native 32x32)``.

    The native channels are shown too when they differ from ``channels`` (``(native 3x32x32)``).
    """
    if info.resolution is None:
        native = "size varies" if info.channels == channels else f"{info.channels} channels, size varies"
    else:
        native = _side(info.resolution) if info.channels == channels else f"{info.channels}x{_side(info.resolution)}"
    return f"inputs {channels}x{resolution}x{resolution} from {info.source} (native {native})"


def resize_warning(info: DatasetInfo, resolution: int) -> str | None:
    """One line when training at ``resolution`` resizes the data, else None (same size, or no native size)."""
    if info.resolution is None or info.resolution == resolution:
        return None
    verb = "upsampled" if resolution > info.resolution else "downsampled"
    return f"warning: inputs are {verb} from the native {_side(info.resolution)} to {_side(resolution)}"
