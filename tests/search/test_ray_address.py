"""Where the Ray executor's trials run: ``--address``, else Ray's own ``RAY_ADDRESS``, else a Ray started
here. An address where nothing listens fails at once, in one line (Ray itself retries for about 90 s)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nas_scaling.cli.main import main
from nas_scaling.errors import UserError
from nas_scaling.search.ray_executor import RayExecutor


def _closed_port() -> int:
    """A port of this machine where nothing listens (bound once to pick it, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_address_where_nothing_listens_is_refused_in_one_line() -> None:
    address = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(UserError) as caught:
        RayExecutor(address=address).start()
    message = str(caught.value)
    assert message.startswith(f"cannot join the Ray cluster at {address!r}: nothing answers there"), message
    assert "\n" not in message and "ray start --head" in message


def test_ray_address_in_the_environment_is_the_cluster_to_join(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --address, RAY_ADDRESS is joined as `ray.init` would (it used to fail: Ray refuses
    ``num_cpus`` when joining, and the executor passed it)."""
    address = f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    with pytest.raises(UserError, match=r"cannot join the Ray cluster at '127\.0\.0\.1:\d+' \(RAY_ADDRESS\)"):
        RayExecutor().start()


def test_the_grid_command_stops_with_the_address_error_before_writing_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    address = f"127.0.0.1:{_closed_port()}"
    code = main(["grid", "--budget", "2xFLOPS", "--epochs", "1", "--max-candidates", "1", "--no-progress",
                 "--storage", f"sqlite:///{tmp_path}/s.db", "--address", address])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"nas-scaling: error: cannot join the Ray cluster at {address!r}"), err
    assert not (tmp_path / "s.db").exists()  # refused before the study opens: nothing written, nothing to repair
