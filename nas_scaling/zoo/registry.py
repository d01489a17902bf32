"""The zoo registry: named functions returning specs; duplicate names are refused."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from nas_scaling.errors import UserError
from nas_scaling.spec import NetworkSpec

__all__ = [
    "ZooEntry", "entries", "get_entry", "get_spec", "is_known", "names", "register", "register_variants", "variants",
]

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


@dataclass(frozen=True)
class _Variants:
    """Names made of an entry's name and its builder's arguments (``mobilenet_v1_0.5_160``)."""

    pattern: re.Pattern[str]
    base: str
    parse: Callable[[re.Match[str]], dict[str, object]]
    form: str
    """How the names read, for listings (``mobilenet_v1_<width>[_<resolution>]``)."""


_VARIANTS: list[_Variants] = []


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


def register_variants(
    pattern: str, *, base: str, parse: Callable[[re.Match[str]], dict[str, object]], form: str,
) -> None:
    """Accept every name that ``pattern`` matches in full as entry ``base`` built with ``parse(match)``
    as extra keyword arguments (the width and resolution multipliers of a paper's tables)."""
    _VARIANTS.append(_Variants(re.compile(pattern), base, parse, form))


def variants() -> list[tuple[str, str]]:
    """``(form, base entry)`` of every family of variant names."""
    return [(v.form, v.base) for v in _VARIANTS]


def names() -> list[str]:
    """The registered entries (variant names such as ``mobilenet_v1_0.5_160`` are not listed)."""
    return list(_REGISTRY)


def is_known(name: str) -> bool:
    """True for a registered entry or a name one of its variant families accepts."""
    return name in _REGISTRY or any(v.pattern.fullmatch(name) for v in _VARIANTS)


def entries() -> list[ZooEntry]:
    return list(_REGISTRY.values())


def get_entry(name: str) -> ZooEntry:
    if name in _REGISTRY:
        return _REGISTRY[name]
    for v in _VARIANTS:
        match = v.pattern.fullmatch(name)
        if match is not None:
            base = _REGISTRY[v.base]
            builder = _named(functools.partial(base.builder, **v.parse(match)), name)
            builder(small=False)  # a bad width or resolution is refused here, by name
            return replace(base, name=name, builder=builder, torchvision=None, torchvision_kwargs=(),
                           published_params=None)
    forms = "".join(f", {v.form}" for v in _VARIANTS)
    raise UserError(f"unknown architecture {name!r}; choose a zoo name ({', '.join(_REGISTRY)}{forms}) or a spec file")


def _named(builder: Builder, name: str) -> Builder:
    """``builder`` whose specs carry the name the user typed."""

    def build(**kwargs: object) -> NetworkSpec:
        return replace(builder(**kwargs), name=name)

    return build


def get_spec(
    name: str, *, num_classes: int | None = None, in_channels: int | None = None, small: bool = False
) -> NetworkSpec:
    return get_entry(name).spec(num_classes=num_classes, in_channels=in_channels, small=small)
