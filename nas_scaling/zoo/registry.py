"""The zoo registry: named functions returning specs; duplicate names are refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nas_scaling.errors import UserError
from nas_scaling.spec import NetworkSpec

__all__ = ["ZooEntry", "entries", "get_entry", "get_spec", "names", "register"]

Builder = Callable[..., NetworkSpec]
"""``builder(*, num_classes: int, in_channels: int, small: bool) -> NetworkSpec``."""


@dataclass(frozen=True)
class ZooEntry:
    name: str
    family: str
    paper: str
    builder: Builder
    torchvision: str | None = None
    """Name of the torchvision model with the same layers (parity-tested), if any."""
    torchvision_kwargs: tuple[tuple[str, object], ...] = ()
    published_params: int | None = None
    """The published ImageNet parameter count, for entries without a torchvision twin."""
    small: str = ""
    """How the entry adapts to small inputs (``small=True``: 32x32)."""

    def spec(
        self, *, num_classes: int | None = None, in_channels: int | None = None, small: bool = False
    ) -> NetworkSpec:
        """The entry's spec; ``None`` keeps the builder's own default (ImageNet's 1000 classes and 3
        channels; LeNet-5's native 10 and 1)."""
        given = {"num_classes": num_classes, "in_channels": in_channels}
        return self.builder(small=small, **{k: v for k, v in given.items() if v is not None})


_REGISTRY: dict[str, ZooEntry] = {}


def register(
    name: str,
    *,
    family: str,
    paper: str,
    torchvision: str | None = None,
    torchvision_kwargs: dict[str, object] | None = None,
    published_params: int | None = None,
    small: str = "",
) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to the zoo under ``name``."""

    def decorate(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"zoo entry {name!r} is already registered")
        _REGISTRY[name] = ZooEntry(
            name, family, paper, builder, torchvision,
            tuple(sorted((torchvision_kwargs or {}).items())), published_params, small,
        )
        return builder

    return decorate


def names() -> list[str]:
    return list(_REGISTRY)


def entries() -> list[ZooEntry]:
    return list(_REGISTRY.values())


def get_entry(name: str) -> ZooEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UserError(
            f"unknown architecture {name!r}; choose a zoo name ({', '.join(_REGISTRY)}) or a spec file"
        ) from None


def get_spec(
    name: str, *, num_classes: int | None = None, in_channels: int | None = None, small: bool = False
) -> NetworkSpec:
    return get_entry(name).spec(num_classes=num_classes, in_channels=in_channels, small=small)
