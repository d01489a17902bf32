"""Published ImageNet-1K (ILSVRC-2012 val) accuracies of zoo entries, for reference plots.

Entries with a torchvision twin use torchvision's ``IMAGENET1K_V1`` weights metadata (the original
training recipe, single 224 centre crop after the twin's resize), copied here as literals so that no
torchvision import is needed; ``tests/zoo/test_reference.py`` checks every literal against it. The
others quote their paper's single-crop table. Entries without a trustworthy published figure
(LeNet-5, ``efficientnet_tiny``, ``efficientnet_cifar``, the SqueezeNet 1.1 bypass variants, VGG config C) have none.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGENET_REFERENCE", "ImageNetReference", "imagenet_reference"]


@dataclass(frozen=True)
class ImageNetReference:
    """Top-1 and top-5 accuracy as fractions in [0, 1] (``top5`` None when not published)."""

    top1: float
    top5: float | None
    source: str

    def __post_init__(self) -> None:
        for label, value in (("top1", self.top1), ("top5", self.top5)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} must be a fraction in [0, 1], got {value}")


def _tv(weights: str, acc1: float, acc5: float) -> ImageNetReference:
    """A torchvision V1 figure; acc@1/acc@5 as torchvision states them, in percent."""
    return ImageNetReference(round(acc1 / 100, 6), round(acc5 / 100, 6),
                             f"torchvision {weights}.IMAGENET1K_V1 metadata")


_HOWARD = "Howard et al. 2017, MobileNets (arXiv:1704.04861), Table 8 (1.0 MobileNet-224), single crop"
_HUANG = "Huang et al. 2017, Densely Connected Convolutional Networks, Table 3 (single-crop 224)"
_IANDOLA = "Iandola et al. 2016, SqueezeNet (arXiv:1602.07360), Table 3"

IMAGENET_REFERENCE: dict[str, ImageNetReference] = {
    "alexnet": _tv("AlexNet_Weights", 56.522, 79.066),
    "densenet121": _tv("DenseNet121_Weights", 74.434, 91.972),
    "densenet169": _tv("DenseNet169_Weights", 75.6, 92.806),
    "densenet201": _tv("DenseNet201_Weights", 76.896, 93.37),
    "densenet264": ImageNetReference(0.7785, 0.9388, _HUANG + ": top-1/top-5 error 22.15%/6.12%"),
    "efficientnet_b0": _tv("EfficientNet_B0_Weights", 77.692, 93.532),
    "efficientnet_b1": _tv("EfficientNet_B1_Weights", 78.642, 94.186),
    "efficientnet_b2": _tv("EfficientNet_B2_Weights", 80.608, 95.31),
    "efficientnet_b3": _tv("EfficientNet_B3_Weights", 82.008, 96.054),
    "efficientnet_b4": _tv("EfficientNet_B4_Weights", 83.384, 96.594),
    "efficientnet_b5": _tv("EfficientNet_B5_Weights", 83.444, 96.628),
    "efficientnet_b6": _tv("EfficientNet_B6_Weights", 84.008, 96.916),
    "efficientnet_b7": _tv("EfficientNet_B7_Weights", 84.122, 96.908),
    "googlenet": _tv("GoogLeNet_Weights", 69.778, 89.53),
    "mobilenet_v1": ImageNetReference(0.706, None, _HOWARD + ": top-1 70.6%, top-5 not reported"),
    "mobilenet_v2": _tv("MobileNet_V2_Weights", 71.878, 90.286),
    "resnet18": _tv("ResNet18_Weights", 69.758, 89.078),
    "resnet34": _tv("ResNet34_Weights", 73.314, 91.42),
    "resnet50": _tv("ResNet50_Weights", 76.13, 92.862),
    "resnet101": _tv("ResNet101_Weights", 77.374, 93.546),
    "resnet152": _tv("ResNet152_Weights", 78.312, 94.046),
    "squeezenet1_0": _tv("SqueezeNet1_0_Weights", 58.092, 80.42),
    "squeezenet1_0_simple": ImageNetReference(0.604, 0.825, _IANDOLA + ", simple bypass: 60.4%/82.5%"),
    "squeezenet1_0_complex": ImageNetReference(0.588, 0.820, _IANDOLA + ", complex bypass: 58.8%/82.0%"),
    "squeezenet1_1": _tv("SqueezeNet1_1_Weights", 58.178, 80.624),
    "vgg11": _tv("VGG11_Weights", 69.02, 88.628),
    "vgg13": _tv("VGG13_Weights", 69.928, 89.246),
    "vgg16": _tv("VGG16_Weights", 71.592, 90.382),
    "vgg19": _tv("VGG19_Weights", 72.376, 90.876),
}
"""Zoo name -> published ImageNet accuracy; names absent have no published figure we trust."""


def imagenet_reference(name: str) -> ImageNetReference | None:
    """The published ImageNet accuracy of zoo entry ``name``, or None when there is none."""
    return IMAGENET_REFERENCE.get(name)
