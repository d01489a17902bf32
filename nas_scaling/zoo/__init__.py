"""The zoo: every classic network of the field as a spec, in a registry."""

from __future__ import annotations

from nas_scaling.zoo import alexnet as _alexnet  # noqa: F401
from nas_scaling.zoo import densenet as _densenet  # noqa: F401
from nas_scaling.zoo import densenet_cifar as _densenet_cifar  # noqa: F401
from nas_scaling.zoo import efficientnet as _efficientnet  # noqa: F401  (registers entries)
from nas_scaling.zoo import googlenet as _googlenet  # noqa: F401
from nas_scaling.zoo import inception as _inception  # noqa: F401
from nas_scaling.zoo import lenet as _lenet  # noqa: F401
from nas_scaling.zoo import mobilenet as _mobilenet  # noqa: F401
from nas_scaling.zoo import resnet as _resnet  # noqa: F401
from nas_scaling.zoo import resnet_cifar as _resnet_cifar  # noqa: F401
from nas_scaling.zoo import squeezenet as _squeezenet  # noqa: F401
from nas_scaling.zoo import vgg as _vgg  # noqa: F401
from nas_scaling.zoo.registry import (
    ZooEntry,
    entries,
    get_entry,
    get_spec,
    is_known,
    names,
    register,
    register_variants,
    variants,
)

__all__ = ["ZooEntry", "entries", "get_entry", "get_spec", "is_known", "names", "register", "register_variants",
           "variants"]
