"""Training-time augmentation applied to whole batches of normalized tensors.

The in-memory fast path (``training/batches.py``) hands the loop ``N x C x R x R`` normalized float
batches already on the device, so augmentation works on those batches instead of per PIL image:

- ``basic``: a random crop after padding by ``resolution / 8`` pixels (4 at 32 px, the CIFAR
  standard) and, for flip-invariant data, a random horizontal flip. Each sample gets its own offset
  and flip: the padded batch is gathered at per-sample offsets with one indexing op (torchvision's
  v2 ``RandomCrop`` on a batch would crop every image the same way). Padding is black, as padding
  the raw image with zeros before normalization is.
- ``trivialaugment`` / ``randaugment``: ``basic``, then torchvision's v2 ``TrivialAugmentWide``
  (Mueller & Hutter 2021) or ``RandAugment`` (Cubuk et al. 2020) on each sample, on the
  un-normalized [0, 1] float image (v2 handles float images), renormalized after.

Every draw comes from the augmenter's own seeded ``torch.Generator`` (v2's global-RNG draws run
under a forked CPU RNG seeded from it), so a training resumed from a checkpoint that holds
:meth:`BatchAugment.get_state` augments exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nas_scaling.data.preprocess import Normalization
from nas_scaling.errors import UserError

__all__ = [
    "AUGMENTS",
    "BatchAugment",
    "augment_padding",
    "check_augment",
    "default_augment",
    "flip_invariant",
    "random_crop",
    "random_flip",
]

AUGMENTS = ("none", "basic", "trivialaugment", "randaugment")

_NO_AUGMENT = ("digits", "mnist", "fashion-mnist")
"""Centered, size-normalized images: a crop shifts strokes out of the frame and buys little."""

_NOT_FLIP_INVARIANT = ("digits", "mnist", "svhn")
"""A mirrored 2, 3, 4, 5, 7 is not a digit (SVHN is house numbers)."""


def check_augment(policy: object) -> str:
    """``policy`` if it is one of :data:`AUGMENTS`, else a one-line UserError naming it."""
    if not isinstance(policy, str) or policy not in AUGMENTS:
        raise UserError(f"augment must be one of {', '.join(AUGMENTS)}, got {policy!r}")
    return policy


def default_augment(dataset_name: str) -> str:
    """The policy a dataset gets by default: ``basic`` for natural images (cifar10, cifar100, svhn
    without flip, imagefolder:*, fake), ``none`` for digits, mnist and fashion-mnist."""
    return "none" if dataset_name in _NO_AUGMENT else "basic"


def flip_invariant(dataset_name: str) -> bool:
    """Whether a horizontally flipped image keeps its label (False for digits and house numbers)."""
    return dataset_name not in _NOT_FLIP_INVARIANT


def augment_padding(resolution: int) -> int:
    """Random-crop padding: 4 px at 32 px (the CIFAR standard), scaled as ``resolution / 8``."""
    return max(1, int(resolution / 8 + 0.5))


def random_crop(
    images: torch.Tensor, padding: int, fill: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """A per-sample random ``H x W`` crop of ``images`` padded by ``padding`` with ``fill`` (C values).

    Offsets are drawn on the CPU from ``generator``; the crop is one gather on ``images``'s device.
    """
    n, c, h, w = images.shape
    padded = fill.to(images.device, images.dtype).view(1, c, 1, 1).expand(n, c, h + 2 * padding, w + 2 * padding)
    padded = padded.contiguous()
    padded[:, :, padding : padding + h, padding : padding + w] = images
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator).to(images.device, non_blocking=True)
    rows = (offsets[0, :, None] + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (offsets[1, :, None] + torch.arange(w, device=images.device))[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    chans = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each sample mirrored left-right with probability 1/2."""
    mask = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device, non_blocking=True)
    return torch.where(mask[:, None, None, None], images.flip(-1), images)


def _policy_transform(policy: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if policy not in ("trivialaugment", "randaugment"):
        return None  # torchvision only where a policy needs it (its import costs seconds)
    from torchvision.transforms import v2

    if policy == "trivialaugment":
        return v2.TrivialAugmentWide()  # type: ignore[no-any-return]
    if policy == "randaugment":
        return v2.RandAugment()  # type: ignore[no-any-return]
    return None


class BatchAugment:
    """Augment normalized ``N x C x R x R`` training batches with one policy of :data:`AUGMENTS`.

    ``normalization`` is the dataset's (to pad with black and to un-normalize for the v2 policies);
    ``flip=False`` for data that is not flip-invariant. Output keeps the input's device and dtype
    and is channels_last, as the batches are.
    """

    def __init__(
        self, policy: str, *, resolution: int, normalization: Normalization, flip: bool = True, seed: int = 0
    ) -> None:
        self.policy = check_augment(policy)
        self.padding = augment_padding(resolution)
        self.flip = flip
        self._mean = torch.tensor(normalization.mean, dtype=torch.float32)
        self._std = torch.tensor(normalization.std, dtype=torch.float32)
        self._black = -self._mean / self._std
        self._transform = _policy_transform(policy)
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def active(self) -> bool:
        return self.policy != "none"

    def get_state(self) -> torch.Tensor:
        """The generator's state (a uint8 tensor), for checkpoints."""
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return images
        if self._black.shape[0] != images.shape[1]:
            raise ValueError(f"normalization has {self._black.shape[0]} channels, the batch {images.shape[1]}")
        out = random_crop(images, self.padding, self._black, self.generator)
        if self.flip:
            out = random_flip(out, self.generator)
        if self._transform is not None:
            out = self._per_sample(out)
        return out.contiguous(memory_format=torch.channels_last)

    def _per_sample(self, images: torch.Tensor) -> torch.Tensor:
        """The v2 policy on each sample (a batched call would apply one op to all), in [0, 1] units."""
        assert self._transform is not None
        mean = self._mean.to(images.device).view(1, -1, 1, 1)
        std = self._std.to(images.device).view(1, -1, 1, 1)
        pixels = (images.float() * std + mean).clamp_(0.0, 1.0)
        seed = int(torch.randint(0, 2**62, (), generator=self.generator))
        with torch.random.fork_rng(devices=[]):  # v2 draws from the global CPU generator
            torch.default_generator.manual_seed(seed)
            pixels = torch.stack([self._transform(image) for image in pixels])
        return ((pixels - mean) / std).to(images.dtype)
