"""8x8 spaces whose networks train a digits epoch in about 0.1 s: for tests that run many trials in
subprocesses (faults, concurrency). Each test keeps its own space text; the reference is shared."""

from __future__ import annotations

from pathlib import Path

REFERENCE = """\
name: ref
in_channels: 1
resolution: 8
num_classes: 10
stem:
- {kind: conv, repeats: 1, stride: 1, channels: 16, kernel: 3, act: relu}
stages:
- {kind: conv, repeats: 1, stride: 2, channels: 16, kernel: 3, act: relu}
head: {conv: null, act: relu, pool: avg, dropout: 0.0}
"""


def write_space(folder: Path, text: str, name: str = "space.yaml") -> Path:
    """Write the space ``text`` (whose ``reference:`` is ``ref.yaml``) and the reference into ``folder``."""
    (folder / "ref.yaml").write_text(REFERENCE)
    path = folder / name
    path.write_text(text)
    return path
