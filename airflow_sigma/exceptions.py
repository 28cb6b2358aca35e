"""The provider's one exception root, and its terminal and transient branches (no Airflow imported).

Every error the provider raises is a :class:`SigmaProviderError`. Its :attr:`~SigmaProviderError.retryable`
says whether running the task again may succeed; the operators, the sensor and the trigger fail the task
without retries when it is False (:func:`airflow_sigma.operators.failures.fail_fast`).

- :class:`TerminalError`: retrying cannot help. :class:`ConfigurationError` (a connection, parameter or
  location that cannot work; :class:`ParameterError` for an operator parameter), :class:`CredentialsError`
  (rejected credentials), :class:`BadInputError` (input beyond what the task accepts: too many bad rows,
  a file without a required column).
- :class:`TransientError`: may succeed later (no answer, a server error after the client's own retries,
  a full disk, a locked database).

The families of each package keep their names and, where callers relied on it, their ``ValueError``
base: :class:`~airflow_sigma.api.errors.SigmaError`, :class:`~airflow_sigma.storage.ExportConfigError`,
:class:`~airflow_sigma.warehouse.WarehouseError`, :class:`~airflow_sigma.events.EventFileError`, ...
A Sigma API error is terminal or transient by its HTTP status (see
:attr:`~airflow_sigma.api.errors.SigmaAPIError.retryable`).
"""

from __future__ import annotations


class SigmaProviderError(Exception):
    """Root of every error raised by airflow-provider-sigma."""

    @property
    def retryable(self) -> bool:
        """Whether running the task again may succeed (unknown errors are retried, as Airflow does)."""
        return True


class TerminalError(SigmaProviderError):
    """Retrying cannot help: the task fails at once, without retries."""

    @property
    def retryable(self) -> bool:
        return False


class ConfigurationError(TerminalError):
    """A connection, parameter or location that cannot work as configured."""


class ParameterError(ConfigurationError, ValueError):
    """An operator parameter has a value it cannot take (checked at parse time, or once rendered)."""


class CredentialsError(TerminalError):
    """Credentials that were rejected (or lack a permission the task needs)."""


class BadInputError(TerminalError):
    """Input beyond what the task accepts (a file without a required column, too many bad rows...)."""


class TransientError(SigmaProviderError):
    """A failure that may not happen again: the task is retried as configured."""


def is_retryable(error: BaseException) -> bool:
    """Whether a task that failed with ``error`` should be retried; errors of other libraries are.

    :param error: any exception.
    """
    return error.retryable if isinstance(error, SigmaProviderError) else True
