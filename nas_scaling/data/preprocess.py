"""Image preprocessing: channel conversion, resizing and normalization, batched on tensors.

Small datasets are preprocessed once, as whole tensors, so a training epoch is plain slicing.
Large ones go through :class:`PilTransform` per item instead; both paths produce the same pixels
up to resampling differences (tensor bilinear with antialias vs PIL bilinear).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

__all__ = [
    "LUMINANCE",
    "Normalization",
    "PilTransform",
    "TensorImageDataset",
    "channel_stats",
    "convert_channels",
    "preprocess_uint8",
    "resize",
]

#: ITU-R 601-2 luma weights, the ones PIL uses for ``convert("L")``.
LUMINANCE = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Normalization:
    """Per-channel mean and std of a dataset, in [0, 1] pixel units."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def to_channels(self, in_channels: int) -> Normalization:
        """The statistics after the 1 <-> 3 channel conversion of :func:`convert_channels`.

        Gray -> RGB replicates. RGB -> gray is exact for the mean; for the std it uses the
        weighted sum of channel stds, which is exact when channels are fully correlated and a close
        upper bound for natural images.
        """
        if len(self.mean) == in_channels:
            return self
        if in_channels == 3:
            return Normalization(self.mean * 3, self.std * 3)
        mean = sum(w * m for w, m in zip(LUMINANCE, self.mean, strict=True))
        std = sum(w * s for w, s in zip(LUMINANCE, self.std, strict=True))
        return Normalization((mean,), (std,))


def convert_channels(images: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Convert an ``N x C x H x W`` float batch to ``in_channels`` (1 <-> 3 only)."""
    channels = images.shape[1]
    if channels == in_channels:
        return images
    if channels == 1 and in_channels == 3:
        return images.expand(-1, 3, -1, -1)
    if channels == 3 and in_channels == 1:
        weights = torch.tensor(LUMINANCE, dtype=images.dtype, device=images.device)
        return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    raise ValueError(f"can only convert between 1 and 3 channels, got {channels} -> {in_channels}")


def resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize a float batch to ``resolution x resolution`` (bilinear, antialiased when shrinking)."""
    if images.shape[-2:] == (resolution, resolution):
        return images
    return F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)


def channel_stats(images: torch.Tensor) -> Normalization:
    """Per-channel mean and std of an ``N x C x H x W`` batch."""
    flat = images.transpose(0, 1).reshape(images.shape[1], -1).double()
    std = flat.std(dim=1).clamp_min(1e-6)
    return Normalization(tuple(flat.mean(dim=1).tolist()), tuple(std.tolist()))


def preprocess_uint8(
    images: np.ndarray | torch.Tensor,
    *,
    resolution: int,
    in_channels: int,
    norm: Normalization,
    chunk: int = 4096,
) -> torch.Tensor:
    """Turn a uint8 ``N x C x H x W`` array into normalized float32 ``N x in_channels x R x R``.

    Works in chunks so the float copy of the raw images never exists in full at once.
    """
    raw = torch.as_tensor(images)
    out = torch.empty((raw.shape[0], in_channels, resolution, resolution), dtype=torch.float32)
    mean = torch.tensor(norm.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(norm.std, dtype=torch.float32).view(1, -1, 1, 1)
    for start in range(0, raw.shape[0], chunk):
        batch = raw[start : start + chunk].float().div_(255.0)
        batch = resize(convert_channels(batch, in_channels), resolution)
        out[start : start + chunk] = (batch - mean) / std
    return out


class TensorImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Preprocessed images and labels held as two tensors; the training loop slices them directly."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.ndim != 4 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"need N x C x H x W images and N labels, got {tuple(images.shape)} and {tuple(labels.shape)}"
            )
        self.images = images
        self.labels = labels.long()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def select(self, indices: np.ndarray | torch.Tensor) -> TensorImageDataset:
        """A new dataset with the given rows (a copy, so the source can be cached untouched)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return TensorImageDataset(self.images.index_select(0, idx), self.labels.index_select(0, idx))


class PilTransform:
    """Per-item path for large datasets: channels, resize + center crop, tensor, normalize.

    A plain class rather than a lambda so DataLoader workers can pickle it.
    """

    def __init__(self, *, resolution: int, in_channels: int, norm: Normalization) -> None:
        from torchvision import transforms

        self.mode = "L" if in_channels == 1 else "RGB"
        self.pipeline = transforms.Compose(
            [
                transforms.Resize(resolution, antialias=True),
                transforms.CenterCrop(resolution),
                transforms.ToTensor(),
                transforms.Normalize(norm.mean, norm.std),
            ]
        )

    def __call__(self, image: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
        if not isinstance(image, Image.Image):
            image = Image.fromarray(np.asarray(image))
        result: torch.Tensor = self.pipeline(image.convert(self.mode))
        return result
