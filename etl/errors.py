"""Errors that end a command with a clear one-line message and a defined exit code."""

from __future__ import annotations


class EtlError(Exception):
    """A failure of the work (exit code 1) with a message meant for the user."""

    exit_code = 1


class UsageError(EtlError):
    """Bad usage or configuration (exit code 2)."""

    exit_code = 2
