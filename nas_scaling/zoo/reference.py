"""Published ImageNet-1K (ILSVRC-2012 val) accuracies of zoo entries, for reference plots.

Each entry has one or more figures, each with its evaluation protocol and source. The first is the
entry's reference (the one plotted): for a torchvision twin, torchvision's ``IMAGENET1K_V1`` weights
metadata (the original training recipe, one 224 centre crop after the twin's resize), copied here as
literals so that no torchvision import is needed (``tests/zoo/test_reference.py`` checks every literal
against it); for the others, their paper's table. Where the paper's own figure differs from
torchvision's weights (another protocol, another training run, another layout), it follows:
AlexNet (10-crop, the paper's two-GPU network with LRN), SqueezeNet 1.0, VGG-16 (multi-crop & dense)
and the DenseNets (single-crop and 10-crop). Entries without a trustworthy published figure (LeNet-5,
``efficientnet_tiny``, ``efficientnet_cifar``, the SqueezeNet 1.1 bypass variants, VGG configurations
C and A-LRN, the CIFAR networks) have none.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGENET_REFERENCE", "IMAGENET_REFERENCES", "PROTOCOLS", "ImageNetReference", "imagenet_reference",
           "imagenet_references"]

PROTOCOLS: tuple[str, ...] = ("single-crop", "10-crop", "multi-crop+dense", "unstated")
"""How a figure was measured: one centre crop; the four corners and the centre, each also mirrored,
predictions averaged; VGG's 3 scales x 50 crops combined with dense (fully convolutional)
evaluation; or not said by the source."""


@dataclass(frozen=True)
class ImageNetReference:
    """Top-1 and top-5 accuracy as fractions in [0, 1] (``top5`` None when not published), the
    evaluation ``protocol`` (one of :data:`PROTOCOLS`) and where the figure comes from."""

    top1: float
    top5: float | None
    source: str
    protocol: str = "single-crop"

    def __post_init__(self) -> None:
        for label, value in (("top1", self.top1), ("top5", self.top5)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} must be a fraction in [0, 1], got {value}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")


def _tv(weights: str, acc1: float, acc5: float) -> ImageNetReference:
    """A torchvision V1 figure; acc@1/acc@5 as torchvision states them, in percent."""
    return ImageNetReference(round(acc1 / 100, 6), round(acc5 / 100, 6),
                             f"torchvision {weights}.IMAGENET1K_V1 metadata")


def _errors(top1_error: str, top5_error: str, source: str, protocol: str) -> ImageNetReference:
    """A paper's figure given as top-1/top-5 error in percent, written as the paper prints them."""
    return ImageNetReference(round(1 - float(top1_error) / 100, 6), round(1 - float(top5_error) / 100, 6),
                             f"{source}: top-1/top-5 error {top1_error}%/{top5_error}%", protocol)


_KRIZHEVSKY = ("Krizhevsky et al. 2012, ImageNet Classification with Deep CNNs, Table 2 (1 CNN, ILSVRC-2012 val; "
               "the paper's two-GPU network with LRN, not torchvision's one-tower layout)")
_SIMONYAN = "Simonyan & Zisserman 2015, Very Deep ConvNets, Table 5 (configuration D, multi-crop & dense)"
_HUANG_T3 = "Huang et al. 2017, Densely Connected Convolutional Networks, Table 3"
_HOWARD = "Howard et al. 2017, MobileNets (arXiv:1704.04861), Table 8 (1.0 MobileNet-224), single crop"
_HUANG = "Huang et al. 2017, Densely Connected Convolutional Networks, Table 3 (single-crop 224)"
_IANDOLA = "Iandola et al. 2016, SqueezeNet (arXiv:1602.07360), Table 3"

_REFERENCE: dict[str, ImageNetReference] = {
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
    "googlenet_aux": _tv("GoogLeNet_Weights", 69.778, 89.53),  # the same eval network; aux heads train it
    "inception_v3": _tv("Inception_V3_Weights", 77.294, 93.45),
    "inception_v3_aux": _tv("Inception_V3_Weights", 77.294, 93.45),
    "mobilenet_v1": ImageNetReference(0.706, None, _HOWARD + ": top-1 70.6%, top-5 not reported"),
    "mobilenet_v2": _tv("MobileNet_V2_Weights", 71.878, 90.286),
    "resnet18": _tv("ResNet18_Weights", 69.758, 89.078),
    "resnet34": _tv("ResNet34_Weights", 73.314, 91.42),
    "resnet50": _tv("ResNet50_Weights", 76.13, 92.862),
    "resnet101": _tv("ResNet101_Weights", 77.374, 93.546),
    "resnet152": _tv("ResNet152_Weights", 78.312, 94.046),
    "squeezenet1_0": _tv("SqueezeNet1_0_Weights", 58.092, 80.42),
    "squeezenet1_0_simple": ImageNetReference(0.604, 0.825, _IANDOLA + ", simple bypass: 60.4%/82.5%", "unstated"),
    "squeezenet1_0_complex": ImageNetReference(0.588, 0.820, _IANDOLA + ", complex bypass: 58.8%/82.0%",
                                               "unstated"),
    "squeezenet1_1": _tv("SqueezeNet1_1_Weights", 58.178, 80.624),
    "vgg11": _tv("VGG11_Weights", 69.02, 88.628),
    "vgg13": _tv("VGG13_Weights", 69.928, 89.246),
    "vgg16": _tv("VGG16_Weights", 71.592, 90.382),
    "vgg19": _tv("VGG19_Weights", 72.376, 90.876),
}

_PAPERS: dict[str, tuple[ImageNetReference, ...]] = {
    "alexnet": (_errors("40.7", "18.2", _KRIZHEVSKY, "10-crop"),),
    "squeezenet1_0": (ImageNetReference(
        0.575, 0.803, "Iandola et al. 2016, SqueezeNet (arXiv:1602.07360), Table 2: 57.5%/80.3%", "unstated"),),
    "vgg16": (_errors("24.4", "7.2", _SIMONYAN, "multi-crop+dense"),),
    "densenet121": (_errors("25.02", "7.71", _HUANG_T3, "single-crop"), _errors("23.61", "6.66", _HUANG_T3, "10-crop")),
    "densenet169": (_errors("23.80", "6.85", _HUANG_T3, "single-crop"), _errors("22.08", "5.92", _HUANG_T3, "10-crop")),
    "densenet201": (_errors("22.58", "6.34", _HUANG_T3, "single-crop"), _errors("21.46", "5.54", _HUANG_T3, "10-crop")),
    "densenet264": (_errors("20.80", "5.29", _HUANG_T3, "10-crop"),),
}
"""The papers' own figures where they differ from the reference (torchvision's weights or another
protocol). VGG-16's often-quoted 92.7% top-5 is not here: Table 5 gives configuration D 7.2% top-5
error (92.8%) multi-crop & dense on the validation set, and we could not tie 92.7% to one network's
figure in the paper."""

IMAGENET_REFERENCES: dict[str, tuple[ImageNetReference, ...]] = {
    name: (ref, *_PAPERS.get(name, ())) for name, ref in _REFERENCE.items()
}
"""Zoo name -> every published ImageNet figure, the reference first; names absent have none we trust."""

IMAGENET_REFERENCE: dict[str, ImageNetReference] = dict(_REFERENCE)
"""Zoo name -> its reference figure (the first of :data:`IMAGENET_REFERENCES`)."""


def imagenet_reference(name: str) -> ImageNetReference | None:
    """The reference ImageNet accuracy of zoo entry ``name``, or None when there is none."""
    return IMAGENET_REFERENCE.get(name)


def imagenet_references(name: str) -> tuple[ImageNetReference, ...]:
    """Every published ImageNet figure of zoo entry ``name``, its reference first (empty: none)."""
    return IMAGENET_REFERENCES.get(name, ())
