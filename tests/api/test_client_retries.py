"""Retries, backoff, Retry-After, timeouts and re-authentication, over real HTTP."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_sigma.api.errors import SigmaAPIError, SigmaConnectionError
from airflow_sigma.api.retry import parse_retry_after
from tests.api.conftest import FAST_RETRIES


def test_retry_after_parsing():
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now.timestamp()) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_429_honours_retry_after_capped_by_retry_after_max(sigma_server, caplog):
    caplog.set_level(logging.WARNING, logger="airflow_sigma")
    sigma_server.fail_next(2, 429, path="/v2/whoami", retry_after="120")
    with sigma_server.client(**{**FAST_RETRIES, "retry_after_max": 0.02}) as client:
        assert client.whoami()["userId"] == sigma_server.org.caller.member_id
        assert client.stats.retries == 2
    waits = [r.getMessage() for r in caplog.records if "HTTP 429" in r.getMessage()]
    assert len(waits) == 2
    assert all(message.endswith("in 0.02s") for message in waits)


def test_429_with_short_retry_after_waits_that_long(sigma_server, caplog):
    caplog.set_level(logging.WARNING, logger="airflow_sigma")
    sigma_server.fail_next(1, 429, path="/v2/whoami", retry_after="0")
    with sigma_server.client(**{**FAST_RETRIES, "retry_after_max": 60}) as client:
        client.whoami()
    assert any(r.getMessage().endswith("HTTP 429; retry 1/5 in 0.00s") for r in caplog.records)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_burst_of_5xx_in_the_middle_of_a_listing(sigma_server, client, status):
    expected = [wb.workbook_id for wb in sigma_server.org.visible_workbooks(admin=True)]
    listing = client.list_workbooks(page_size=4)
    first_page = [next(listing)["workbookId"] for _ in range(4)]
    sigma_server.fail_next(3, status, path="/v2/workbooks")
    rest = [entry["workbookId"] for entry in listing]
    assert first_page + rest == expected
    assert client.stats.retries == 3
    assert sigma_server.stats.injected_errors == 3


def test_retries_are_bounded_then_the_status_is_reported(sigma_server):
    sigma_server.fail_path("/v2/whoami", 503, message="maintenance")
    with (
        sigma_server.client(**{**FAST_RETRIES, "max_retries": 2}) as client,
        pytest.raises(SigmaAPIError) as err,
    ):
        client.whoami()
    assert err.value.status == 503
    assert err.value.path == "/v2/whoami"
    assert err.value.code == "service_unavailable"
    assert err.value.request_id
    assert "maintenance" in str(err.value)
    assert sigma_server.stats.by_endpoint["GET /v2/whoami"] == 3


def test_500_is_not_retried(sigma_server, client):
    sigma_server.fail_next(1, 500, path="/v2/whoami")
    with pytest.raises(SigmaAPIError) as err:
        client.whoami()
    assert err.value.status == 500
    assert sigma_server.stats.by_endpoint["GET /v2/whoami"] == 1


def test_dropped_connections_are_retried(sigma_server, client):
    sigma_server.drop_next(2, path="/v2/whoami")
    assert client.whoami()["organizationId"] == sigma_server.org.organization_id
    assert client.stats.retries == 2
    assert sigma_server.stats.dropped_connections == 2


def test_random_faults_with_a_budget_still_list_everything(sigma_server):
    sigma_server.configure(error_rate=0.2, drop_rate=0.1)
    with sigma_server.client(**{**FAST_RETRIES, "max_retries": 10}) as client:
        listed = [wb["workbookId"] for wb in client.list_workbooks(page_size=3)]
    assert listed == [wb.workbook_id for wb in sigma_server.org.visible_workbooks(admin=True)]
    assert sigma_server.stats.injected_errors + sigma_server.stats.dropped_connections > 0


def test_every_request_has_a_timeout(sigma_server):
    settings = {**FAST_RETRIES, "timeout": 0.05, "max_retries": 1}
    with sigma_server.client(**settings) as client:
        client.whoami()
        sigma_server.configure(latency=0.3)
        with pytest.raises(SigmaConnectionError) as err:
            client.get("/v2/whoami")
    assert sigma_server.url in str(err.value) and "ReadTimeout" in str(err.value)
    assert err.value.status is None and err.value.path == "/v2/whoami"


def test_token_is_not_replayed_on_5xx(sigma_server, client):
    sigma_server.fail_next(1, 503, path="/v2/auth/token")
    with pytest.raises(SigmaAPIError, match=r"HTTP 503 .*is not replayed") as err:
        client.whoami()
    assert err.value.status == 503
    assert sigma_server.stats.token_requests == 1


def test_token_request_waits_out_a_429(sigma_server, client):
    sigma_server.fail_next(1, 429, path="/v2/auth/token")
    assert client.whoami()["userId"]
    assert sigma_server.stats.token_requests == 2


def test_token_expiry_in_the_middle_of_a_listing(sigma_server, client):
    expected = [wb.workbook_id for wb in sigma_server.org.visible_workbooks(admin=True)]
    listing = client.list_workbooks(page_size=5)
    first = [next(listing)["workbookId"] for _ in range(5)]
    sigma_server.expire_tokens()
    rest = [entry["workbookId"] for entry in listing]
    assert first + rest == expected
    assert sigma_server.stats.token_requests == 2
    assert client.stats.reauthentications == 1
    assert sigma_server.stats.by_status[401] == 1


def test_a_token_rejected_twice_fails_with_401(sigma_server, client):
    sigma_server.configure(token_lifetime=0)
    with pytest.raises(SigmaAPIError) as err:
        client.whoami()
    assert err.value.status == 401
    assert "freshly issued token was rejected" in str(err.value)
    assert sigma_server.stats.token_requests == 2
