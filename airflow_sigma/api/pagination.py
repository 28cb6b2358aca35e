"""The one paginator used for every Sigma list endpoint.

Sigma has two schemes (reference/sigma-api.md §3.1):

* ``limit``/``page`` with ``{"entries": [...], "nextPage": "<opaque>" | null, "hasMore": ...}``;
* ``pageSize``/``pageToken`` with ``{"entries": [...], "nextPageToken": "<opaque>" | null}``.

Some endpoints answer with a bare JSON array when no ``limit`` is sent (members, workspaces, teams); that
is the whole result. Page tokens are opaque strings passed back verbatim: never parsed or computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from airflow_sigma.api.errors import SigmaPaginationError

MAX_PAGE_SIZE = 1000
DEFAULT_MAX_PAGES = 100_000
# Empty pages that still point to a next page: Sigma can answer one when it filters a page's entries
# (permissions), but a run of them is a server paginating nowhere.
MAX_EMPTY_PAGES = 3

Scheme = Literal["page", "token"]
Fetch = Callable[[dict[str, Any]], Any]

_SIZE_PARAM: dict[str, str] = {"page": "limit", "token": "pageSize"}
_TOKEN_FIELDS: tuple[tuple[str, str], ...] = (("nextPage", "page"), ("nextPageToken", "pageToken"))


def check_page_size(page_size: int) -> int:
    """Return ``page_size`` if it is an int in 1..1000, else raise ``ValueError``.

    :param page_size: entries per request.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return page_size


def iter_entries(
    fetch: Fetch,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int = MAX_PAGE_SIZE,
    scheme: Scheme = "page",
    max_pages: int = DEFAULT_MAX_PAGES,
    max_empty_pages: int = MAX_EMPTY_PAGES,
) -> Iterator[dict[str, Any]]:
    """Yield every entry of a list endpoint, following page tokens until they run out.

    :param fetch: performs one GET of ``path`` with the given query parameters and returns parsed JSON.
    :param path: the endpoint, used in error messages.
    :param params: extra query parameters sent with every request.
    :param page_size: sent as ``limit`` (scheme ``page``) or ``pageSize`` (scheme ``token``), 1..1000.
    :param scheme: which size parameter the endpoint expects; either token field is followed.
    :param max_pages: hard bound on the number of requests, so a broken server cannot loop forever.
    :param max_empty_pages: stop after this many empty pages in a row that still point to a next page.
    """
    query: dict[str, Any] = dict(params or {})
    query[_SIZE_PARAM[scheme]] = check_page_size(page_size)
    seen: set[str] = set()
    empty_run = 0
    for page_number in range(1, max_pages + 1):
        body = fetch(dict(query))
        if isinstance(body, list):
            yield from body
            return
        entries = _entries(body, path)
        yield from entries
        next_token = _next_token(body, path)
        if next_token is None:
            return
        token_param, token = next_token
        if token in seen:
            raise SigmaPaginationError(
                f"Sigma returned the same page token for {path} a second time (page {page_number}); "
                "stopping instead of looping forever.",
                path=path,
            )
        empty_run = 0 if entries else empty_run + 1
        if empty_run >= max_empty_pages:
            raise SigmaPaginationError(
                f"Sigma returned {empty_run} empty pages in a row for {path} that still point to a next "
                f"page (page {page_number}); stopping instead of paginating through nothing.",
                path=path,
            )
        seen.add(token)
        query[token_param] = token
    raise SigmaPaginationError(f"{path} still had more results after {max_pages} pages; stopping.", path=path)


def _entries(body: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or "entries" not in body:
        found = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise SigmaPaginationError(
            f"Expected a list or an object with 'entries' from {path}, got {found}.", path=path
        )
    entries = body["entries"]
    if not isinstance(entries, list):
        raise SigmaPaginationError(
            f"'entries' from {path} is {type(entries).__name__}, expected a list.", path=path
        )
    return entries


def _next_token(body: dict[str, Any], path: str) -> tuple[str, str] | None:
    """Return ``(query parameter, token)`` for the next request, or ``None`` on the last page."""
    has_more = parse_has_more(body.get("hasMore"))
    for field, param in _TOKEN_FIELDS:
        if field not in body:
            continue
        token = body[field]
        if token is None or token == "" or has_more is False:
            return None
        return param, str(token)
    if has_more:
        raise SigmaPaginationError(
            f"{path} says hasMore but gives no nextPage or nextPageToken; cannot continue safely.",
            path=path,
        )
    return None


def parse_has_more(value: Any) -> bool | None:
    """Read the deprecated ``hasMore`` flag, which arrives as a boolean or a string.

    :param value: the raw field value; ``None`` (absent) or an unrecognised value gives ``None``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None
