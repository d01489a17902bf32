"""The user-mistake contract, for tests of any command: exit 2, one line, no traceback."""

from __future__ import annotations

import pytest

from nas_scaling.cli.main import main


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], expect: str) -> str:
    """Run ``nas-scaling argv``; assert it failed with exactly one error line containing ``expect``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "Traceback" not in err
    assert err.startswith("nas-scaling: error: ")
    assert expect in err, err
    return err
