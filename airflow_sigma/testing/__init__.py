"""Test helpers for users and for this project: a local Sigma-compatible API server and fixtures.

Nothing in this package may import Airflow at module level: it is loaded as a pytest plugin,
before a test suite's conftest has a chance to point AIRFLOW_HOME somewhere private.

Exports are loaded lazily so that ``python -m airflow_sigma.testing.server`` does not import the
server module twice.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sigma.testing.app import ServerOptions, ServerStats
    from airflow_sigma.testing.org import Org, OrgSpec
    from airflow_sigma.testing.server import SigmaTestServer

__all__ = ["Org", "OrgSpec", "ServerOptions", "ServerStats", "SigmaTestServer"]

_HOMES = {
    "Org": "airflow_sigma.testing.org",
    "OrgSpec": "airflow_sigma.testing.org",
    "ServerOptions": "airflow_sigma.testing.app",
    "ServerStats": "airflow_sigma.testing.app",
    "SigmaTestServer": "airflow_sigma.testing.server",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
