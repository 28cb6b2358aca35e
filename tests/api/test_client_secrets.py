"""The client secret and access tokens never reach logs, printed output, reprs or exception texts."""

from __future__ import annotations

import logging
import traceback

import pytest

from airflow_sigma.api.client import SigmaClient
from airflow_sigma.api.errors import SigmaError
from tests.api.conftest import FAST_RETRIES


def test_secret_and_tokens_absent_from_logs_output_and_errors(sigma_server, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    seen_tokens: list[str] = []
    texts: list[str] = []
    client = sigma_server.client(**FAST_RETRIES, on_token=seen_tokens.append)
    texts.append(repr(client))

    # A normal listing with retries, a dropped connection and a forced re-authentication.
    sigma_server.fail_next(2, 429, path="/v2/workbooks")
    sigma_server.drop_next(1, path="/v2/workbooks")
    listing = client.list_workbooks(page_size=3)
    next(listing)
    sigma_server.expire_tokens()
    list(listing)

    # Errors: an API failure, and rejected credentials (message must not echo the secret).
    sigma_server.fail_path("/v2/whoami", 404)
    for failing in (
        client.whoami,
        SigmaClient(sigma_server.url, "id", sigma_server.client_secret + "x", allow_custom_host=True).whoami,
    ):
        with pytest.raises(SigmaError) as err:
            failing()
        texts.append(str(err.value))
        texts.append("".join(traceback.format_exception(err.value)))

    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    secrets = [sigma_server.client_secret, *sigma_server.issued_tokens]
    assert len(sigma_server.issued_tokens) == 2
    assert seen_tokens == sigma_server.issued_tokens[:2]
    assert "Obtained a Sigma access token" in caplog.text  # the logs are really captured
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_on_token_receives_each_new_token(sigma_server):
    received: list[str] = []
    client = sigma_server.client(on_token=received.append)
    client.whoami()
    sigma_server.expire_tokens()
    client.whoami()
    assert received == sigma_server.issued_tokens
    assert len(received) == 2
