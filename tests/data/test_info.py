"""inspect_dataset, describe_inputs and resize_warning: what the inputs are, said in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import nas_scaling.data.info as info_module
from nas_scaling.data import DATASETS, DatasetInfo, describe_inputs, inspect_dataset, resize_warning
from nas_scaling.errors import UserError


def _folder(root: Path, sizes: list[tuple[int, int]], modes: list[str], *, classes: int = 2) -> Path:
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i, (size, mode) in enumerate(zip(sizes, modes, strict=True)):
                Image.new(mode, size, 100 if mode in ("L", "P") else (200, 30, 30)).save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize(
    ("name", "channels", "resolution", "classes"),
    [("digits", 1, 8, 10), ("mnist", 1, 28, 10), ("fashion-mnist", 1, 28, 10), ("cifar10", 3, 32, 10),
     ("cifar100", 3, 32, 100), ("svhn", 3, 32, 10), ("fake", 3, None, 10)],
)
def test_known_datasets_are_constants(name: str, channels: int, resolution: int | None, classes: int,
                                      tmp_path: Path) -> None:
    info = inspect_dataset(name, data_dir=tmp_path / "nothing-here")  # nothing is read
    assert info == DatasetInfo(name, name, channels, resolution, classes)
    assert info.source == name


def test_every_dataset_name_is_known() -> None:
    for name in DATASETS:
        assert inspect_dataset(name).name == name


def test_colour_imagefolder(tmp_path: Path) -> None:
    root = _folder(tmp_path / "cifar10-dev", [(32, 32)] * 3, ["RGB"] * 3, classes=3)
    info = inspect_dataset(f"imagefolder:{root}")
    assert info == DatasetInfo(f"imagefolder:{root}", "cifar10-dev", 3, 32, 3)
    assert info.source == "imagefolder:cifar10-dev"


def test_label_is_the_folders_own_name_even_with_a_trailing_slash(tmp_path: Path) -> None:
    root = _folder(tmp_path / "my data", [(8, 8)], ["L"])
    assert inspect_dataset(f"imagefolder:{root}/").label == "my data"


def test_grayscale_and_gray_palette_folder_is_one_channel(tmp_path: Path) -> None:
    root = _folder(tmp_path / "gray", [(28, 28), (28, 28)], ["L", "P"])
    assert inspect_dataset(f"imagefolder:{root}").channels == 1


def test_mixed_grayscale_and_colour_counts_as_colour(tmp_path: Path) -> None:
    root = _folder(tmp_path / "mixed", [(16, 16), (16, 16), (16, 16)], ["L", "L", "RGB"])
    assert inspect_dataset(f"imagefolder:{root}").channels == 3
    colour_palette = tmp_path / "palette"
    _folder(colour_palette, [(16, 16)], ["L"])
    image = Image.new("RGB", (16, 16), (10, 200, 30)).convert("P")
    image.save(colour_palette / "train" / "class1" / "colour.png")
    assert inspect_dataset(f"imagefolder:{colour_palette}").channels == 3


def test_resolution_is_the_most_common_size_and_none_when_not_square(tmp_path: Path) -> None:
    root = _folder(tmp_path / "a", [(40, 40), (32, 32), (32, 32)], ["RGB"] * 3)
    assert inspect_dataset(f"imagefolder:{root}").resolution == 32
    tie = _folder(tmp_path / "b", [(40, 40), (32, 32)], ["RGB"] * 2)
    assert inspect_dataset(f"imagefolder:{tie}").resolution == 40  # a tie: the first one seen
    wide = _folder(tmp_path / "c", [(40, 30)], ["RGB"])
    assert inspect_dataset(f"imagefolder:{wide}").resolution is None


def test_only_a_sample_of_headers_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _folder(tmp_path / "many", [(8, 8)] * 40, ["L"] * 40, classes=3)
    seen: list[Path] = []
    real = info_module.read_image_header

    def spy(path: Path) -> tuple[bool, tuple[int, int]]:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(info_module, "read_image_header", spy)
    monkeypatch.setattr(info_module, "SAMPLE_SIZE", 10)
    assert inspect_dataset(f"imagefolder:{root}").num_classes == 3
    assert len(seen) == 10
    assert {p.parent.name for p in seen} == {"class0", "class1", "class2"}  # taken in turn from each class


def test_imagefolder_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        inspect_dataset(f"imagefolder:{tmp_path / 'missing'}")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "val").mkdir()
    with pytest.raises(UserError, match="has no class folders"):
        inspect_dataset(f"imagefolder:{tmp_path / 'empty'}")
    (tmp_path / "empty" / "train" / "cat").mkdir()
    with pytest.raises(UserError, match="has no image files"):
        inspect_dataset(f"imagefolder:{tmp_path / 'empty'}")
    with pytest.raises(UserError, match="needs a path"):
        inspect_dataset("imagefolder:")
    with pytest.raises(UserError, match="unknown dataset 'nope'"):
        inspect_dataset("nope")


def test_corrupt_image_in_the_sample_names_the_file(tmp_path: Path) -> None:
    root = _folder(tmp_path / "broken", [(8, 8)], ["L"])
    bad = root / "train" / "class0" / "0.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(UserError) as info:
        inspect_dataset(f"imagefolder:{root}")
    message = str(info.value)
    assert message.startswith(f"cannot read image {bad}: ") and "\n" not in message


def test_describe_inputs_is_one_line() -> None:
    cifar = DatasetInfo("imagefolder:/a/b/cifar10-dev", "cifar10-dev", 3, 32, 10)
    assert describe_inputs(cifar, channels=3, resolution=32) == (
        "inputs 3x32x32 from imagefolder:cifar10-dev (native 32x32)"
    )
    assert describe_inputs(cifar, channels=1, resolution=16) == (
        "inputs 1x16x16 from imagefolder:cifar10-dev (native 3x32x32)"
    )
    digits = inspect_dataset("digits")
    assert describe_inputs(digits, channels=1, resolution=16) == "inputs 1x16x16 from digits (native 8x8)"
    fake = inspect_dataset("fake")
    assert describe_inputs(fake, channels=3, resolution=16) == "inputs 3x16x16 from fake (native size varies)"
    assert describe_inputs(fake, channels=1, resolution=16) == (
        "inputs 1x16x16 from fake (native 3 channels, size varies)"
    )


def test_resize_warning() -> None:
    digits = inspect_dataset("digits")
    assert resize_warning(digits, 16) == "warning: inputs are upsampled from the native 8x8 to 16x16"
    assert resize_warning(inspect_dataset("cifar10"), 16) == (
        "warning: inputs are downsampled from the native 32x32 to 16x16"
    )
    assert resize_warning(digits, 8) is None
    assert resize_warning(inspect_dataset("fake"), 16) is None
