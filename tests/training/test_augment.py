"""Batch augmentation: per-sample crops and flips, v2 policies per sample, determinism, never at evaluation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas_scaling.data import AUGMENTS, BatchAugment, Normalization, default_augment, flip_invariant, load_dataset
from nas_scaling.data.augment import augment_padding, random_crop, random_flip
from nas_scaling.errors import UserError
from nas_scaling.training import TrainConfig, evaluate, seed_everything, train

NORM = Normalization((0.5, 0.4, 0.3), (0.25, 0.2, 0.15))


def test_policy_per_dataset() -> None:
    assert AUGMENTS == ("none", "basic", "trivialaugment", "randaugment")
    for name in ("cifar10", "cifar100", "imagefolder:/data/x", "fake", "svhn"):
        assert default_augment(name) == "basic"
    for name in ("digits", "mnist", "fashion-mnist"):
        assert default_augment(name) == "none"
    assert not flip_invariant("svhn") and not flip_invariant("digits") and not flip_invariant("mnist")
    assert flip_invariant("cifar10") and flip_invariant("imagefolder:/data/x") and flip_invariant("fake")


def test_padding_scales_with_resolution() -> None:
    assert [augment_padding(r) for r in (8, 16, 28, 32, 64, 224)] == [1, 2, 4, 4, 8, 28]


def test_crop_is_per_sample_and_a_window_of_the_padded_image() -> None:
    n, c, side, pad = 64, 3, 8, 2
    images = torch.randn(n, c, side, side)
    fill = torch.tensor([-1.0, -2.0, -3.0])
    out = random_crop(images, pad, fill, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    padded = fill.view(1, c, 1, 1).expand(n, c, side + 2 * pad, side + 2 * pad).clone()
    padded[:, :, pad:-pad, pad:-pad] = images
    offsets = []
    for i in range(n):
        found = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                 if torch.equal(out[i], padded[i, :, dy : dy + side, dx : dx + side])]
        assert found, f"sample {i} is not a crop of its padded image"
        offsets.append(found[0])
    assert len(set(offsets)) > 5  # different offsets per sample, not one crop for the batch


def test_flip_is_per_sample() -> None:
    images = torch.randn(200, 1, 4, 4)
    out = random_flip(images, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images, strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 60 < sum(flipped) < 140


def test_basic_pads_with_black_and_never_flips_when_told_not_to() -> None:
    images = torch.zeros(256, 3, 8, 8)  # the mean colour
    images[:, :, :, :4] = 1.0  # a left/right asymmetric image
    out = BatchAugment("basic", resolution=8, normalization=NORM, flip=False, seed=1)(images)
    black = torch.tensor([-m / s for m, s in zip(NORM.mean, NORM.std, strict=True)])
    values = {round(v, 5) for v in out[:, 0].flatten().tolist()}
    assert values <= {0.0, 1.0, round(float(black[0]), 5)} and round(float(black[0]), 5) in values
    # without flip the bright half stays on the left: column 7 is never bright
    assert not (out[:, :, :, 7] == 1.0).any()
    flipped = BatchAugment("basic", resolution=8, normalization=NORM, flip=True, seed=1)(images)
    assert (flipped[:, :, :, 7] == 1.0).any()


@pytest.mark.parametrize("policy", AUGMENTS)
def test_policies_keep_shape_dtype_layout_and_are_seeded(policy: str) -> None:
    images = torch.randn(16, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    first = BatchAugment(policy, resolution=16, normalization=NORM, seed=3)
    second = BatchAugment(policy, resolution=16, normalization=NORM, seed=3)
    a, b = first(images), second(images)
    assert a.shape == images.shape and a.dtype == images.dtype
    assert a.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(a, b)
    if policy == "none":
        assert a is images
    else:
        assert not torch.equal(a, images)


@pytest.mark.parametrize("policy", ["trivialaugment", "randaugment"])
def test_v2_policy_applies_per_sample_in_pixel_units(policy: str) -> None:
    augment = BatchAugment(policy, resolution=16, normalization=NORM, seed=0)
    one = torch.rand(3, 16, 16)
    normalized = (one - torch.tensor(NORM.mean).view(3, 1, 1)) / torch.tensor(NORM.std).view(3, 1, 1)
    out = augment._per_sample(normalized.expand(32, -1, -1, -1).contiguous())
    distinct = {tuple(o.flatten()[:64].tolist()) for o in out}
    assert len(distinct) > 4  # a batched v2 call would give every sample the same op
    pixels = out * torch.tensor(NORM.std).view(1, 3, 1, 1) + torch.tensor(NORM.mean).view(1, 3, 1, 1)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    # TrivialAugment's identity op gives back the image (un-normalize and renormalize are exact)
    assert policy == "randaugment" or any(torch.allclose(o, normalized, atol=1e-5) for o in out)


def test_generator_state_resumes_the_stream() -> None:
    images = torch.randn(8, 3, 16, 16)
    augment = BatchAugment("trivialaugment", resolution=16, normalization=NORM, seed=5)
    augment(images)
    state = augment.get_state()
    expected = augment(images)
    fresh = BatchAugment("trivialaugment", resolution=16, normalization=NORM, seed=5)
    fresh.set_state(state)
    assert torch.equal(fresh(images), expected)


def test_global_rng_is_untouched_by_the_v2_policies() -> None:
    images = torch.randn(4, 3, 16, 16)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    BatchAugment("randaugment", resolution=16, normalization=NORM, seed=0)(images)
    assert torch.equal(torch.rand(3), expected)


def test_bad_policy_is_one_line() -> None:
    with pytest.raises(UserError, match=r"^augment must be one of none, basic, trivialaugment, randaugment, "
                                        r"got 'bogus'$"):
        TrainConfig(augment="bogus")
    with pytest.raises(UserError, match="augment must be one of"):
        BatchAugment("bogus", resolution=8, normalization=NORM)


def test_training_augments_but_evaluation_does_not() -> None:
    data = load_dataset("fake", resolution=16, in_channels=3)
    seed_everything(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, data.num_classes))
    config = TrainConfig(epochs=1, threads=1, augment="trivialaugment")
    result = train(model, data, config, evaluate_test=True)
    assert result.status == "completed"
    again = evaluate(model, data.val, num_classes=data.num_classes, device="cpu")
    assert (again.top1, again.loss) == (result.val_top1, result.val_loss)
    assert evaluate(model, data.val, num_classes=data.num_classes, device="cpu") == again
