"""Errors raised by the export storage code.

Both carry a message meant for the person reading the task log: what was wrong, where, and what
was expected. Neither ever includes credentials.
"""

from __future__ import annotations

from airflow_sigma.exceptions import ConfigurationError, SigmaProviderError


class ExportConfigError(ConfigurationError, ValueError):
    """The export location or its settings are invalid (raised before any I/O where possible)."""


class ExportStorageError(SigmaProviderError, RuntimeError):
    """Listing or reading the export location failed (missing bucket or folder, access denied, ...).

    Retryable: a location that is missing or refused now may be there after a retry (a mount, a
    permission being granted), and network errors pass.
    """
