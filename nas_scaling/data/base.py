"""The value every dataset loader returns."""

from __future__ import annotations

from dataclasses import dataclass

from torch.utils.data import Dataset

from nas_scaling.data.preprocess import Normalization, TensorImageDataset

__all__ = ["DatasetSplits"]


@dataclass(frozen=True)
class DatasetSplits:
    """Train, validation and test sets of one dataset, preprocessed to one shape.

    Each split yields ``(image, label)`` with images ``in_channels x resolution x resolution``,
    normalized. Splits are :class:`TensorImageDataset` when the data fits in memory (the training
    loop then slices tensors instead of running a DataLoader).
    """

    name: str
    num_classes: int
    resolution: int
    in_channels: int
    train: Dataset[tuple]
    val: Dataset[tuple]
    test: Dataset[tuple]
    normalization: Normalization

    @property
    def in_memory(self) -> bool:
        """True when all three splits are preprocessed tensors."""
        return all(isinstance(s, TensorImageDataset) for s in (self.train, self.val, self.test))

    def sizes(self) -> tuple[int, int, int]:
        """Number of train, val and test images."""
        return tuple(len(s) for s in (self.train, self.val, self.test))  # type: ignore[arg-type, return-value]

    def describe(self) -> str:
        """One line for logs: name, shape and split sizes."""
        train, val, test = self.sizes()
        return (
            f"{self.name}: {self.num_classes} classes, {self.in_channels}x{self.resolution}x"
            f"{self.resolution}, train/val/test {train}/{val}/{test}"
        )
