"""pytest fixtures for testing DAGs against a local Sigma server (opt-in).

Load it with ``pytest -p airflow_sigma.testing.pytest_plugin``, or in a ``conftest.py``::

    pytest_plugins = ["airflow_sigma.testing.pytest_plugin"]

It is not registered as a ``pytest11`` entry point, so installing the provider changes no other pytest
session of a deployment.

Fixtures:

* ``sigma_org_spec``: the :class:`~airflow_sigma.testing.org.OrgSpec` ``sigma_server`` serves; override
  it in a conftest to change the organisation.
* ``sigma_server``: a running :class:`~airflow_sigma.testing.server.SigmaTestServer`, stopped afterwards.
* ``sigma_server_factory``: call it with ``SigmaTestServer`` arguments to start more servers (two regions,
  another org); all are stopped afterwards.

This module must not import Airflow (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_sigma.testing.org import OrgSpec
from airflow_sigma.testing.server import SigmaTestServer


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    """The organisation served by ``sigma_server`` (override to change it)."""
    return OrgSpec()


@pytest.fixture
def sigma_server(sigma_org_spec: OrgSpec) -> Iterator[SigmaTestServer]:
    """A local Sigma API server on 127.0.0.1, with random credentials (``.client_id``, ``.client_secret``)."""
    with SigmaTestServer(sigma_org_spec) as server:
        yield server


@pytest.fixture
def sigma_server_factory() -> Iterator[Callable[..., SigmaTestServer]]:
    """Start extra servers: ``sigma_server_factory(OrgSpec(workbooks=5), admin=False)``."""
    started: list[SigmaTestServer] = []

    def start(*args: Any, **kwargs: Any) -> SigmaTestServer:
        server = SigmaTestServer(*args, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
