"""Errors a user can cause, each with a stable ``code`` the front ends translate.

Every error the core raises on bad input derives from :class:`LabError`, so a UI
can catch that one type and show ``error.message`` (English) or its own text for
``error.code`` — never a traceback.
"""

from __future__ import annotations


class LabError(Exception):
    """Base class: ``code`` names the problem, ``message`` explains it in English."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InputError(LabError, ValueError):
    """The text to translate cannot be used (empty, no Chinese, too long…)."""


class CheckpointError(LabError):
    """A model file is missing, truncated, corrupt or not one of ours."""


class CorpusError(LabError):
    """A training file cannot be used (too large, nothing valid in it…)."""


class TrainingError(LabError):
    """A training cannot go on: in a distributed run, another process failed or left."""


class BusyError(LabError):
    """The server already runs as many trainings as it allows."""
