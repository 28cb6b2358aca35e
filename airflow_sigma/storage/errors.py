"""Errors raised by the export storage code.

Each carries a message meant for the person reading the task log: what was wrong, where (the bucket,
prefix or file, and the connection id), and what to do. None ever includes credentials.

Whether a task is retried follows the branch (:mod:`airflow_sigma.exceptions`): a location that does
not exist or refuses the connection fails at once, since the user must act; a throttled, failing or
silent server, a dropped connection or a file gone since it was listed is retried.
"""

from __future__ import annotations

from airflow_sigma.exceptions import ConfigurationError, CredentialsError, TransientError


class ExportConfigError(ConfigurationError, ValueError):
    """The export location or its settings are invalid (raised before any I/O where possible)."""


class ExportStorageError(TransientError, RuntimeError):
    """Listing or reading the export location failed in a way a later try may not meet (throttling,
    a 5xx answer, a timeout, a dropped connection, a file deleted since it was listed): retried.
    Its subclasses :class:`ExportLocationError` and :class:`ExportAccessError` are terminal."""


class ExportLocationError(ConfigurationError, ExportStorageError):
    """The bucket does not exist, or is not where the connection looks for it (another region):
    not retried, the bucket URI or the connection must change."""


class ExportAccessError(CredentialsError, ExportStorageError):
    """The storage service refused the connection's credentials, or they lack a permission on the
    bucket: not retried, the credentials or their permissions must change."""
