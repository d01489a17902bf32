"""Errors the user can cause: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations

__all__ = ["UserError", "SpecError"]


class UserError(Exception):
    """A mistake in what the user asked for (a value, a path, a file); never a bug of ours.

    The message is one line that names the offending value and what is allowed.
    """


class SpecError(UserError, ValueError):
    """An architecture spec that breaks a rule of the architecture language."""
