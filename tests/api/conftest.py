"""Shared fixtures for the API client tests: a small organisation and fast retry settings."""

from __future__ import annotations

import pytest

from airflow_sigma.testing.org import OrgSpec

FAST_RETRIES = {"backoff_initial": 0.001, "backoff_max": 0.01, "retry_after_max": 0.01, "timeout": 5.0}


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=7, workbooks=30, pages_per_workbook=2, elements_per_page=3, members=8)


@pytest.fixture
def client(sigma_server):
    with sigma_server.client(**FAST_RETRIES) as sigma_client:
        yield sigma_client
