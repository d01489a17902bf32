"""The ``nas-scaling`` command. Thin: parse options, call an importable function, print.

Heavy imports (torch, ray, mlflow) happen inside the commands, so ``nas-scaling --help`` is instant.
A :class:`~nas_scaling.errors.UserError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from nas_scaling.errors import UserError

__all__ = ["main", "build_parser"]

# command name -> module under nas_scaling.cli defining add_parser(subparsers)
COMMANDS = ("zoo", "show", "profile", "train", "scale", "grid", "search", "baseline", "compare", "proxies", "ui")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """argparse's usage errors as one line, exit 2."""
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nas-scaling",
        description="Neural-architecture search and compound scaling of convolutional networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"nas_scaling.cli.{name}")
        module.add_parser(sub)
    return parser


def _configure_libraries() -> None:
    """The process-wide settings of the libraries underneath, made here at the edge (library code sets
    none): Optuna logs warnings only, not an INFO line per study and trial (its import sets INFO, so
    it is imported here, after the options parsed, and ``--help`` stays instant); its warning that
    heartbeats are meant for ``Study.optimize`` is dropped, the proposer beats for ask-and-tell trials
    on purpose. MLflow's own import sets its loggers (alembic at WARNING); the tracker drops MLflow's
    INFO lines while it creates a database, for that call only; Ray Tune's settings are scoped to
    each run by the Ray executor."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM ends a command as Ctrl-C's second press would, through ``finally`` blocks and context
    exits (the study's live runs end KILLED, Ray stops), with the shell's code for it, 143. ``ray.init``
    used to install the same (``sys.exit``) when Ray started in the main thread; it now starts in a
    thread of its own (:class:`~nas_scaling.search.ray_executor.RayExecutor`), so the edge does it."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if on_main_thread else None
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 2
        _configure_libraries()
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"nas-scaling: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nas-scaling: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path that cannot be written or read (a file where a folder should be, ...)
        where = f": {exc.filename!r}" if exc.filename else ""
        print(f"nas-scaling: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
