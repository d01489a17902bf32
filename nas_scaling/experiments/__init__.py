"""The experiments: compound-scaling grid, architecture search, handcrafted baselines, the proxies
study and prescreening, each a plan run through one :class:`StudySession` and ranked."""

from __future__ import annotations

from nas_scaling.experiments.records import Planned, TrialRecord
from nas_scaling.experiments.session import StudySession

__all__ = ["Planned", "StudySession", "TrialRecord"]
