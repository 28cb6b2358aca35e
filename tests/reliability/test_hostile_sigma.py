"""A hostile or broken Sigma host cannot get the credentials elsewhere, leak them, or hold a task.

Each case runs the real client against a real HTTP server on 127.0.0.1 (``tests.reliability.hostile``
or the repository's local Sigma server) that misbehaves in one way: redirects, echoes the secret in
every error field, issues malformed tokens, drips bytes, streams without end, nests JSON deeply, asks for
a new token on every call or paginates forever through empty pages.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from typing import Any

import pytest

from airflow_sigma.api.client import SigmaClient
from airflow_sigma.api.errors import (
    SigmaAPIError,
    SigmaAuthError,
    SigmaError,
    SigmaPaginationError,
)
from airflow_sigma.api.pagination import MAX_EMPTY_PAGES
from airflow_sigma.testing.server import SigmaTestServer
from tests.reliability.hostile import (
    TOKEN_PATH,
    StubHandler,
    StubServer,
    drip,
    issue_token,
    redirect,
    send_json,
    stream,
)

SECRET = "hostile-test-secret-7f3a9c"
CLIENT_ID = "hostile-client"
FAST: dict[str, Any] = {
    "backoff_initial": 0.001,
    "backoff_max": 0.01,
    "retry_after_max": 0.01,
    "timeout": 5.0,
    "max_retries": 0,
}


def client_for(server: StubServer, **kwargs: Any) -> SigmaClient:
    return SigmaClient(server.url, CLIENT_ID, SECRET, allow_custom_host=True, **{**FAST, **kwargs})


def texts_of(err: pytest.ExceptionInfo[BaseException]) -> str:
    """Everything a user or a log could see of an error: message, attributes, formatted traceback."""
    exc = err.value
    attributes = [str(getattr(exc, name, "")) for name in ("code", "request_id", "path", "host")]
    return "\n".join([str(exc), *attributes, "".join(traceback.format_exception(exc))])


# -- 1. no redirect is followed ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
def test_token_post_redirect_is_not_followed(status: int) -> None:
    with StubServer({"*": issue_token()}) as other:
        routes = {f"POST {TOKEN_PATH}": redirect(status, f"{other.url}{TOKEN_PATH}")}
        with StubServer(routes) as sigma, pytest.raises(SigmaError) as err:
            client_for(sigma).whoami()
        assert other.seen == []
    assert f"Sigma answered HTTP {status} redirect to {other.netloc}; not followed" in str(err.value)
    assert SECRET not in texts_of(err)
    assert sigma.count("POST", TOKEN_PATH) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_get_redirect_is_not_followed(status: int) -> None:
    evil = {"*": lambda handler: send_json(handler, 200, {"userId": "evil", "organizationId": "evil"})}
    with StubServer(evil) as other:
        routes = {
            f"POST {TOKEN_PATH}": issue_token(),
            "GET /v2/whoami": redirect(status, f"{other.url}/v2/whoami"),
        }
        with StubServer(routes) as sigma, pytest.raises(SigmaAPIError) as err:
            client_for(sigma).whoami()
        assert other.seen == []
    assert f"Sigma answered HTTP {status} redirect to {other.netloc}; not followed" in str(err.value)
    assert err.value.status == status and err.value.path == "/v2/whoami"
    assert sigma.count("GET", "/v2/whoami") == 1  # a redirect is an answer: not retried


def test_redirect_to_a_location_carrying_the_secret_does_not_quote_it() -> None:
    def echo_redirect(handler: StubHandler) -> None:
        redirect(307, f"http://{handler.seen.form['client_secret']}.example:1/x")(handler)

    with StubServer({f"POST {TOKEN_PATH}": echo_redirect}) as sigma, pytest.raises(SigmaError) as err:
        client_for(sigma).whoami()
    assert "redirect to ***.example:1; not followed" in str(err.value)
    assert SECRET not in texts_of(err)


# -- 2. every server-supplied field is scrubbed ---------------------------------------------------


def echo_secret(status: int) -> Any:
    """A token endpoint that echoes the client secret it received in every field of its error."""

    def route(handler: StubHandler) -> None:
        secret = handler.seen.form["client_secret"]
        body = {"code": f"bad-{secret}", "message": f"no {secret}", "requestId": f"req-{secret}"}
        send_json(handler, status, body, {"x-request-id": f"hdr-{secret}"})

    return route


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500])
def test_token_error_fields_echoing_the_secret_are_scrubbed(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with StubServer({f"POST {TOKEN_PATH}": echo_secret(status)}) as sigma, pytest.raises(SigmaError) as err:
        client_for(sigma).whoami()
    assert sigma.count("POST", TOKEN_PATH) == 1
    assert f"HTTP {status}" in str(err.value)
    assert SECRET not in texts_of(err) and SECRET not in caplog.text


def test_api_error_fields_echoing_the_token_and_secret_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = "tok-Zq81lLz0cW6hostile"

    def echo(handler: StubHandler) -> None:
        seen = handler.seen.headers["authorization"].removeprefix("Bearer ")
        body = {
            "code": f"c-{seen}-{SECRET}",
            "message": f"m-{seen}",
            "requestId": f"r-{seen}-{SECRET}",
            "details": {"token": seen},
        }
        send_json(handler, 403, body, {"x-request-id": f"h-{seen}"})

    routes = {f"POST {TOKEN_PATH}": issue_token(token), "GET /v2/whoami": echo}
    with StubServer(routes) as sigma, pytest.raises(SigmaAPIError) as err:
        client_for(sigma).whoami()
    seen = texts_of(err)
    assert "HTTP 403" in seen and "c-***-***" in seen and "r-***-***" in seen
    assert token not in seen and SECRET not in seen and token not in caplog.text


def test_test_connection_text_never_shows_echoed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_sigma.hooks import SigmaHook

    with StubServer({f"POST {TOKEN_PATH}": echo_secret(401)}) as sigma:
        conn = {
            "conn_type": "sigma",
            "host": sigma.url,
            "login": CLIENT_ID,
            "password": SECRET,
            "extra": {"allow_custom_host": True},
        }
        monkeypatch.setenv("AIRFLOW_CONN_SIGMA_HOSTILE", json.dumps(conn))
        ok, message = SigmaHook("sigma_hostile", client_kwargs=FAST).test_connection()
    assert not ok and "HTTP 401" in message and sigma.url in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "token",
    [
        "zq9-good\r\nX-Injected: yes",
        "zq9 with spaces",
        "zq9-\x00-nul",
        "zq9-\u00e9-accent",
        "zq9" + "t" * 8190,
        12345,
        ["zq9-in-a-list"],
        "",
    ],
    ids=["crlf", "space", "nul", "non-ascii", "too-long", "number", "list", "empty"],
)
def test_malformed_tokens_are_refused_on_receipt_without_quoting_them(token: Any) -> None:
    routes = {f"POST {TOKEN_PATH}": issue_token(token), "GET /v2/whoami": issue_token()}
    with StubServer(routes) as sigma, pytest.raises(SigmaAuthError) as err:
        client_for(sigma).whoami()
    assert "access_token" in str(err.value) and sigma.url in str(err.value)
    assert sigma.count("GET", "/v2/whoami") == 0
    assert "zq9" not in texts_of(err)


def test_a_token_of_the_longest_accepted_length_is_used() -> None:
    token = "t" * 8192
    routes = {
        f"POST {TOKEN_PATH}": issue_token(token),
        "GET /v2/whoami": lambda h: send_json(h, 200, {"userId": "u", "organizationId": "o"}),
    }
    with StubServer(routes) as sigma:
        assert client_for(sigma).whoami() == {"userId": "u", "organizationId": "o"}
        assert sigma.seen[-1].headers["authorization"] == f"Bearer {token}"


# -- 3. deadlines, sizes, nesting, token lifetimes, endless pagination -----------------------------


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_slow_drip_cannot_hold_a_get_past_its_attempt_deadline(in_headers: bool) -> None:
    routes = {f"POST {TOKEN_PATH}": issue_token(), "GET /v2/whoami": drip(every=0.1, in_headers=in_headers)}
    with StubServer(routes) as sigma:
        client = client_for(sigma, attempt_deadline=0.5, max_retries=1)
        started = time.monotonic()
        with pytest.raises(SigmaAPIError) as err:
            client.whoami()
        elapsed = time.monotonic() - started
    # Without a deadline each attempt lasts 60 drips of 0.1 s; two attempts of 0.5 s end well before.
    assert elapsed < 3.0, elapsed
    assert sigma.count("GET", "/v2/whoami") == 2
    assert "no complete answer within the 0.5 s attempt deadline" in str(err.value)


def test_slow_drip_on_the_token_endpoint_is_cut_at_the_deadline() -> None:
    with StubServer({f"POST {TOKEN_PATH}": drip(every=0.1)}) as sigma:
        client = client_for(sigma, attempt_deadline=0.5)
        started = time.monotonic()
        with pytest.raises(SigmaAuthError) as err:
            client.whoami()
        elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    assert "no complete answer within the 0.5 s attempt deadline" in str(err.value)


def test_retries_of_slow_attempts_stay_within_the_call_budget() -> None:
    routes = {f"POST {TOKEN_PATH}": issue_token(), "GET /v2/whoami": drip(every=0.1)}
    with StubServer(routes) as sigma:
        client = client_for(sigma, attempt_deadline=0.4, max_retries=50, retry_budget=1.0)
        started = time.monotonic()
        with pytest.raises(SigmaAPIError):
            client.whoami()
        elapsed = time.monotonic() - started
    # The budget (1 s) covers the whole call, token request included: at most 3 attempts of 0.4 s fit.
    assert elapsed < 3.0, elapsed
    assert 1 <= sigma.count("GET", "/v2/whoami") <= 3


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_a_body_above_the_size_limit_is_refused(declare_length: bool) -> None:
    limit = 1024 * 1024
    routes = {
        f"POST {TOKEN_PATH}": issue_token(),
        "GET /v2/whoami": stream(8 * limit, declare_length=declare_length),
    }
    with StubServer(routes) as sigma, pytest.raises(SigmaAPIError) as err:
        client_for(sigma, max_response_bytes=limit).whoami()
    assert "larger than the 1 MiB response limit" in str(err.value)
    assert sigma.count("GET", "/v2/whoami") == 1  # not retried


def test_a_token_body_above_the_size_limit_is_refused() -> None:
    limit = 1024 * 1024
    routes = {f"POST {TOKEN_PATH}": stream(4 * limit, declare_length=False)}
    with StubServer(routes) as sigma, pytest.raises(SigmaError) as err:
        client_for(sigma, max_response_bytes=limit).whoami()
    assert "larger than the 1 MiB response limit" in str(err.value)


def test_deeply_nested_json_is_an_api_error_not_a_recursion_error() -> None:
    depth = 200_000
    nested = b"[" * depth + b"]" * depth
    routes = {f"POST {TOKEN_PATH}": issue_token(), "GET /v2/whoami": lambda h: send_json(h, 200, nested)}
    with StubServer(routes) as sigma, pytest.raises(SigmaAPIError) as err:
        client_for(sigma).whoami()
    assert "nested too deeply" in str(err.value) and "/v2/whoami" in str(err.value)


def test_deeply_nested_json_from_the_token_endpoint_is_an_auth_error() -> None:
    depth = 200_000
    nested = b'{"access_token":' + b"[" * depth + b"]" * depth + b"}"
    routes = {f"POST {TOKEN_PATH}": lambda h: send_json(h, 200, nested)}
    with StubServer(routes) as sigma, pytest.raises(SigmaError, match="nested too deeply"):
        client_for(sigma).whoami()


@pytest.mark.parametrize("expires_in", [0.001, 0, -5, 1])
def test_tiny_token_lifetimes_are_floored(expires_in: float) -> None:
    with SigmaTestServer(reported_expires_in=expires_in) as sigma:
        client = sigma.client(**FAST)
        for _ in range(5):
            client.whoami()
        assert sigma.stats.token_requests == 1


def test_endless_empty_pages_stop_with_a_clear_error() -> None:
    def empty_page(handler: StubHandler) -> None:
        number = int(handler.seen.query.get("page", "0")) + 1
        send_json(handler, 200, {"entries": [], "nextPage": str(number)})

    routes = {f"POST {TOKEN_PATH}": issue_token(), "GET /v2/workbooks": empty_page}
    with StubServer(routes) as sigma, pytest.raises(SigmaPaginationError) as err:
        list(client_for(sigma).list_workbooks())
    assert sigma.count("GET", "/v2/workbooks") == MAX_EMPTY_PAGES == 3
    assert f"{MAX_EMPTY_PAGES} empty pages in a row" in str(err.value)


def test_empty_pages_between_full_ones_are_followed() -> None:
    pages = {"0": (["a"], "1"), "1": ([], "2"), "2": ([], "3"), "3": (["b"], "4"), "4": ([], None)}

    def page(handler: StubHandler) -> None:
        entries, next_page = pages[handler.seen.query.get("page", "0")]
        send_json(handler, 200, {"entries": [{"id": e} for e in entries], "nextPage": next_page})

    routes = {f"POST {TOKEN_PATH}": issue_token(), "GET /v2/workbooks": page}
    with StubServer(routes) as sigma:
        assert [e["id"] for e in client_for(sigma).list_workbooks()] == ["a", "b"]
