"""Request handling of the local Sigma API server: routing, auth, pagination, fault injection, counters.

No sockets here (see ``server.py``): :meth:`SigmaApp.handle` maps a request to a response or to ``DROP``.
Response shapes follow reference/sigma-api.md §1-4. Choices where Sigma's behaviour is undocumented:

* a rejected token request answers 401 ``{"code": "unauthorized"}``;
* ``isArchived=true`` lists archived workbooks only; without it (or ``false``) only non-archived ones;
* explorations are listed only with ``skipPermissionCheck=true`` (and not ``excludeExplorations``);
* a non-admin caller sending ``skipPermissionCheck=true`` gets 403 (``options.non_admin_skip_permission_check
  = "forbid"``, the default: Sigma documents the flag as "only available to Sigma admins"), or the flag is
  ignored (``"ignore"``);
* page tokens are opaque, non-numeric strings containing ``+``, ``/`` and ``=``, so a client that does not
  pass them back verbatim and URL-encoded gets 400.

Variants seen in real organisations' recorded answers are switches (off by default): workbooks without
``ownerId`` (``omit_owner_ids``), members without ``isArchived``/``isInactive`` (``member_flags=False``),
the personal space listed as a workspace called "User Folder" (``personal_space_name``) and error answers
with an empty ``{}`` body (``empty_error_bodies``).

Catalog endpoints (reference §3.3-3.7), quirks included: ``/v2/workbooks/{id}/sources`` is a bare array
and answers 400 to paging parameters; element lineage answers 500 for "no lineage", 400 for elements
that hold no data and 409 ``inode_archived`` when the element's dataset is archived; ``/v2/dataModels``
leaves out personal data models (``/v2/dataModels/{id}`` answers for them, by UUID or url id); teams
and workspaces are bare arrays without ``limit``; ``/v2/files?typeFilters=workspace`` lists only the
workspaces the caller is a member of, admin or not; ``datasets_gone`` makes the deprecated datasets
API answer 404.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hmac
import json
import random
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qsl

from airflow_sigma.testing.org import Member, Org, Workbook

DROP = object()
"""Returned by :meth:`SigmaApp.handle` when the connection must be closed without a response."""

_TRUNCATE = object()  # an injected fault: answer, but cut the body off (see Response.truncated)

TOKEN_PATH = "/v2/auth/token"
_TOKEN_PREFIX = "c+/"


@dataclass
class ServerOptions:
    """Switches that can be changed while the server runs (``server.options.latency = 0.05``).

    :param admin: the caller has the Admin account type.
    :param latency: seconds every request sleeps before it is answered.
    :param token_lifetime: seconds an access token stays valid.
    :param reported_expires_in: ``expires_in`` sent with tokens (default: ``token_lifetime``).
    :param error_rate: probability that an API GET answers one of ``error_statuses``.
    :param error_statuses: statuses drawn for random errors.
    :param retry_after: ``Retry-After`` header sent with injected 429s (``None``: no header).
    :param drop_rate: probability that an API GET's connection is closed without a response.
    :param truncate_rate: probability that an API GET's response is cut off mid-body, then closed.
    :param non_admin_skip_permission_check: ``"forbid"`` (403) or ``"ignore"``.
    :param has_more_as_string: send ``hasMore`` as ``"true"``/``"false"`` strings.
    :param repeat_page_token: every non-last page returns the same ``nextPage`` (a broken server).
    :param default_page_size: page size when ``limit`` is absent on always-paginated endpoints.
    :param omit_owner_ids: every second workbook (in the organisation's order) has no ``ownerId``, only
        ``createdBy``/``updatedBy``.
    :param member_flags: member entries carry ``isArchived``/``isInactive``; False leaves both out (the
        ``includeArchived``/``includeInactive`` filters still apply).
    :param personal_space_name: list the personal space as a workspace of this name (e.g. "User Folder")
        in ``/v2/workspaces``, while paths keep saying "My Documents".
    :param empty_error_bodies: every error answer's body is ``{}`` (no code, message or request id).
    :param datasets_gone: the deprecated ``/v2/datasets`` API answers 404.
    """

    admin: bool = True
    latency: float = 0.0
    token_lifetime: float = 3600.0
    reported_expires_in: float | None = None
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (429, 502, 503, 504)
    retry_after: str | None = "1"
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    non_admin_skip_permission_check: Literal["forbid", "ignore"] = "forbid"
    has_more_as_string: bool = False
    repeat_page_token: bool = False
    default_page_size: int = 50
    omit_owner_ids: bool = False
    member_flags: bool = True
    personal_space_name: str | None = None
    empty_error_bodies: bool = False
    datasets_gone: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    """An answer; ``truncated``: send the headers and half the body, then close the connection."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    truncated: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (``server.requests``)."""

    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    status: int | None


@dataclass(frozen=True)
class ServerStats:
    """A snapshot of the server's counters.

    :param requests: requests received, token requests included.
    :param token_requests: ``POST /v2/auth/token`` requests (accepted or not).
    :param by_endpoint: requests per endpoint template, e.g. ``"GET /v2/workbooks/{workbookId}/pages"``.
    :param by_status: responses per HTTP status.
    :param peak_in_flight: the most requests being handled at the same moment.
    :param injected_errors: error responses injected by faults.
    :param dropped_connections: connections closed without a response, or with a truncated one.
    """

    requests: int = 0
    token_requests: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    by_status: dict[int, int] = field(default_factory=dict)
    peak_in_flight: int = 0
    injected_errors: int = 0
    dropped_connections: int = 0


@dataclass
class _Fault:
    pattern: str
    status: int | None  # None means: drop the connection (or truncate the answer)
    remaining: int | None  # None means: persistent
    retry_after: str | None = None
    message: str | None = None
    truncate: bool = False


Route = tuple[str, "re.Pattern[str]", str, Callable[..., Response]]


class SigmaApp:
    """The state and behaviour of one fake Sigma organisation's API host.

    :param org: the organisation served.
    :param client_id: the only client id accepted.
    :param client_secret: its secret.
    :param options: runtime switches.
    :param fault_seed: seeds random fault injection.
    :param request_log_size: how many recent requests ``requests`` keeps.
    """

    def __init__(
        self,
        org: Org,
        client_id: str,
        client_secret: str,
        options: ServerOptions,
        *,
        fault_seed: int = 0,
        request_log_size: int = 10_000,
    ) -> None:
        self.org = org
        self.client_id = client_id
        self.client_secret = client_secret
        self.options = options
        self._lock = threading.Lock()
        self._rng = random.Random(fault_seed)
        self._tokens: dict[str, float] = {}
        self._issued: list[str] = []
        self._refresh_tokens: set[str] = set()
        self._faults: list[_Fault] = []
        self._log: deque[RecordedRequest] = deque(maxlen=request_log_size)
        self._in_flight = 0
        self.reset_stats()
        self._routes: list[Route] = [
            ("POST", re.compile(r"^/v2/auth/token$"), "/v2/auth/token", self._token),
            ("GET", re.compile(r"^/v2/whoami$"), "/v2/whoami", self._whoami),
            ("GET", re.compile(r"^/v2/workbooks$"), "/v2/workbooks", self._workbooks),
            ("GET", re.compile(r"^/v2/workbooks/([^/]+)$"), "/v2/workbooks/{workbookId}", self._workbook),
            (
                "GET",
                re.compile(r"^/v2/workbooks/([^/]+)/pages$"),
                "/v2/workbooks/{workbookId}/pages",
                self._pages,
            ),
            (
                "GET",
                re.compile(r"^/v2/workbooks/([^/]+)/pages/([^/]+)/elements$"),
                "/v2/workbooks/{workbookId}/pages/{pageId}/elements",
                self._elements,
            ),
            ("GET", re.compile(r"^/v2/workspaces$"), "/v2/workspaces", self._workspaces),
            ("GET", re.compile(r"^/v2\.1/workspaces$"), "/v2.1/workspaces", self._workspaces_v21),
            ("GET", re.compile(r"^/v2/members$"), "/v2/members", self._members),
            ("GET", re.compile(r"^/v2\.1/members$"), "/v2.1/members", self._members_v21),
            ("GET", re.compile(r"^/v2/members/([^/]+)$"), "/v2/members/{memberId}", self._member),
            ("GET", re.compile(r"^/v2/accountTypes$"), "/v2/accountTypes", self._account_types),
            (
                "GET",
                re.compile(r"^/v2/workbooks/([^/]+)/sources$"),
                "/v2/workbooks/{workbookId}/sources",
                self._sources,
            ),
            (
                "GET",
                re.compile(r"^/v2/workbooks/([^/]+)/lineage/elements/([^/]+)$"),
                "/v2/workbooks/{workbookId}/lineage/elements/{elementId}",
                self._lineage,
            ),
            ("GET", re.compile(r"^/v2/dataModels$"), "/v2/dataModels", self._data_models),
            (
                "GET",
                re.compile(r"^/v2/dataModels/([^/]+)$"),
                "/v2/dataModels/{dataModelId}",
                self._data_model,
            ),
            ("GET", re.compile(r"^/v2/datasets$"), "/v2/datasets", self._datasets),
            ("GET", re.compile(r"^/v2/teams$"), "/v2/teams", self._teams),
            (
                "GET",
                re.compile(r"^/v2/teams/([^/]+)/members$"),
                "/v2/teams/{teamId}/members",
                self._team_members,
            ),
            ("GET", re.compile(r"^/v2/files$"), "/v2/files", self._files),
        ]

    # -- control ------------------------------------------------------------------------------------

    def reset_stats(self) -> None:
        with self._lock:
            self._requests = 0
            self._token_requests = 0
            self._by_endpoint: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._peak = self._in_flight
            self._injected = 0
            self._dropped = 0
            self._log.clear()

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                requests=self._requests,
                token_requests=self._token_requests,
                by_endpoint=dict(self._by_endpoint),
                by_status=dict(self._by_status),
                peak_in_flight=self._peak,
                injected_errors=self._injected,
                dropped_connections=self._dropped,
            )

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def add_fault(
        self,
        pattern: str,
        status: int | None,
        count: int | None,
        retry_after: str | None = None,
        message: str | None = None,
        truncate: bool = False,
    ) -> None:
        with self._lock:
            self._faults.append(_Fault(pattern, status, count, retry_after, message, truncate))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- request handling ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response | object:
        """Answer one request (thread-safe); returns a :class:`Response` or :data:`DROP`."""
        route, args = self._route(request)
        endpoint = f"{request.method} {route[2]}" if route else f"{request.method} {request.path}"
        with self._lock:
            self._requests += 1
            self._token_requests += request.path == TOKEN_PATH
            self._by_endpoint[endpoint] += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        result: Response | object = DROP
        try:
            if self.options.latency > 0:
                time.sleep(self.options.latency)
            result = self._dispatch(request, route, args)
            if self.options.empty_error_bodies and isinstance(result, Response) and result.status >= 400:
                result = replace(result, body={})
            return result
        finally:
            status = result.status if isinstance(result, Response) and not result.truncated else None
            with self._lock:
                self._in_flight -= 1
                if status is None:
                    self._dropped += 1
                else:
                    self._by_status[status] += 1
                self._log.append(
                    RecordedRequest(request.method, request.path, endpoint, request.query, status)
                )

    def _route(self, request: Request) -> tuple[Route | None, tuple[str, ...]]:
        for route in self._routes:
            match = route[1].match(request.path)
            if match and route[0] == request.method:
                return route, match.groups()
        return None, ()

    def _dispatch(self, request: Request, route: Route | None, args: tuple[str, ...]) -> Response | object:
        injected = self._injected_fault(request)
        if injected is _TRUNCATE:
            return replace(self._answer(request, route, args), truncated=True)
        if injected is not None:
            return injected
        return self._answer(request, route, args)

    def _answer(self, request: Request, route: Route | None, args: tuple[str, ...]) -> Response:
        if route is None:
            if any(r[1].match(request.path) for r in self._routes):
                return _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}")
            return _error(404, "not_found", f"No such endpoint: {request.path}")
        if request.path != TOKEN_PATH and not self._authorized(request):
            return _error(401, "unauthorized", "Missing, expired or invalid access token")
        return route[3](request, *args)

    def _injected_fault(self, request: Request) -> Response | object | None:
        with self._lock:
            fault = next((f for f in self._faults if fnmatch.fnmatchcase(request.path, f.pattern)), None)
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            roll = self._rng.random()
            status_pick = (
                self._rng.choice(self.options.error_statuses) if self.options.error_statuses else 503
            )
        if fault is None and request.method == "GET":
            truncate_below = self.options.drop_rate + self.options.truncate_rate
            if roll < self.options.drop_rate:
                fault = _Fault("*", None, 1)
            elif roll < truncate_below:
                fault = _Fault("*", None, 1, truncate=True)
            elif roll < truncate_below + self.options.error_rate:
                fault = _Fault("*", status_pick, 1, self.options.retry_after)
        if fault is None:
            return None
        if fault.truncate:
            return _TRUNCATE
        with self._lock:
            self._injected += fault.status is not None
        if fault.status is None:
            return DROP
        headers = {}
        retry_after = fault.retry_after if fault.retry_after is not None else self.options.retry_after
        if fault.status == 429 and retry_after is not None:
            headers["Retry-After"] = retry_after
        message = fault.message or f"Injected HTTP {fault.status}"
        return _error(fault.status, _code_for(fault.status), message, headers)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return False
        token = header[7:].strip()
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and time.monotonic() < expires

    # -- endpoints ----------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _error(400, "bad_request", "Content-Type must be application/x-www-form-urlencoded")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if grant == "refresh_token":
            with self._lock:
                known = form.get("refresh_token") in self._refresh_tokens
            if not known:
                return _error(401, "unauthorized", "Invalid refresh token")
            return self._issue_token()
        if grant != "client_credentials":
            return _error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return _error(400, "bad_request", "Malformed Basic authorization header")
        id_ok = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        if not (id_ok and secret_ok):
            return _error(401, "unauthorized", "Invalid client credentials")
        return self._issue_token()

    def _issue_token(self) -> Response:
        access, refresh = f"sgt_{secrets.token_urlsafe(32)}", f"sgr_{secrets.token_urlsafe(32)}"
        lifetime = self.options.token_lifetime
        with self._lock:
            self._tokens[access] = time.monotonic() + lifetime
            self._issued.append(access)
            self._refresh_tokens.add(refresh)
        reported = self.options.reported_expires_in
        expires_in = lifetime if reported is None else reported
        body = {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": int(expires_in) if float(expires_in).is_integer() else expires_in,
        }
        return Response(200, body)

    def _whoami(self, request: Request) -> Response:
        return Response(
            200, {"userId": self.org.caller.member_id, "organizationId": self.org.organization_id}
        )

    def _workbooks(self, request: Request) -> Response:
        skip = _flag(request.query, "skipPermissionCheck")
        if skip and not self.options.admin:
            if self.options.non_admin_skip_permission_check == "forbid":
                return _error(403, "forbidden", "skipPermissionCheck is only available to Sigma admins")
            skip = False
        listed = self.org.visible_workbooks(
            admin=self.options.admin,
            skip_permission_check=skip,
            exclude_explorations=_flag(request.query, "excludeExplorations"),
            is_archived=_flag(request.query, "isArchived"),
        )
        if self.options.omit_owner_ids:
            return self._page([self._without_owner(wb) for wb in listed], request, envelope="full")
        return self._page(listed, request, envelope="full")

    def _without_owner(self, workbook: Workbook) -> Workbook | dict[str, Any]:
        if self.org.workbook_index[workbook.workbook_id] % 2 == 0:
            return workbook
        entry = workbook.to_api()
        del entry["ownerId"]
        return entry

    def _accessible(self, workbook_id: str) -> Response | None:
        workbook = self.org.workbook_by_id.get(workbook_id)
        if workbook is None:
            return _error(404, "not_found", f"Workbook {workbook_id} not found")
        if not self.options.admin and not self.org.caller_can_access(workbook):
            return _error(403, "forbidden", f"No access to workbook {workbook_id}")
        return None

    def _workbook(self, request: Request, workbook_id: str) -> Response:
        problem = self._accessible(workbook_id)
        return problem or Response(200, _render(self._without_owner(self.org.workbook_by_id[workbook_id])))

    def _pages(self, request: Request, workbook_id: str) -> Response:
        problem = self._accessible(workbook_id)
        if problem:
            return problem
        return self._page(self.org.pages[workbook_id], request, envelope="total")

    def _elements(self, request: Request, workbook_id: str, page_id: str) -> Response:
        problem = self._accessible(workbook_id)
        if problem:
            return problem
        elements = self.org.elements.get((workbook_id, page_id))
        if elements is None:
            return _error(404, "not_found", f"Page {page_id} not found in workbook {workbook_id}")
        return self._page(elements, request, envelope="total")

    def _listed_workspaces(self) -> list[dict[str, Any]]:
        listed = [ws.to_api() for ws in self.org.visible_workspaces(admin=self.options.admin)]
        if self.options.personal_space_name:
            listed.append(self.org.personal_space(self.options.personal_space_name))
        return listed

    def _workspaces(self, request: Request) -> Response:
        listed = self._listed_workspaces()
        if "limit" not in request.query:
            return Response(200, listed)  # legacy bare array (reference/sigma-api.md §3.1)
        return self._page(listed, request, envelope="basic")

    def _workspaces_v21(self, request: Request) -> Response:
        listed = self._listed_workspaces()
        return self._page(listed, request, envelope="full")

    def _listed_members(self, request: Request) -> list[dict[str, Any]]:
        members = self.org.listed_members(
            include_archived=_flag(request.query, "includeArchived"),
            include_inactive=_flag(request.query, "includeInactive"),
        )
        search = request.query.get("search", "").lower()
        return [self._member_entry(m) for m in members if search in m.email.lower()]

    def _member_entry(self, member: Member) -> dict[str, Any]:
        entry = member.to_api()
        if not self.options.member_flags:
            del entry["isArchived"], entry["isInactive"]
        return entry

    def _members(self, request: Request) -> Response:
        listed = self._listed_members(request)
        if "limit" not in request.query:
            return Response(200, listed)  # legacy bare array
        return self._page(listed, request, envelope="basic")

    def _members_v21(self, request: Request) -> Response:
        return self._page(self._listed_members(request), request, envelope="full")

    def _member(self, request: Request, member_id: str) -> Response:
        member = next((m for m in self.org.members if m.member_id == member_id), None)
        if member is None:
            return _error(404, "not_found", f"Member {member_id} not found")
        return Response(200, self._member_entry(member))

    def _account_types(self, request: Request) -> Response:
        return self._page(list(self.org.account_types), request, envelope="token")

    def _sources(self, request: Request, workbook_id: str) -> Response:
        problem = self._accessible(workbook_id)
        if problem:
            return problem
        if {"limit", "page"} & set(request.query):
            return _error(400, "bad_request", "This endpoint does not accept limit or page")
        return Response(200, [source.to_api() for source in self.org.sources.get(workbook_id, [])])

    def _lineage(self, request: Request, workbook_id: str, element_id: str) -> Response:
        problem = self._accessible(workbook_id)
        if problem:
            return problem
        element = next(
            (e for page in self.org.pages[workbook_id] for e in self.org.elements[(workbook_id, page.page_id)]
             if e.element_id == element_id),
            None,
        )  # fmt: skip
        if element is None:
            return _error(404, "not_found", f"Element {element_id} not found in workbook {workbook_id}")
        lineage = self.org.lineage.get((workbook_id, element_id))
        if lineage is None:
            return _error(400, "bad_request", f"Lineage is not supported for {element.type} elements")
        if lineage.status != 200:
            return _error(lineage.status, lineage.code or _code_for(lineage.status), "Lineage unavailable")
        return Response(200, lineage.to_api())

    def _data_models(self, request: Request) -> Response:
        return self._page(self.org.listed_data_models(), request, envelope="full")

    def _data_model(self, request: Request, data_model_id: str) -> Response:
        model = self.org.data_model_by_id.get(data_model_id)
        if model is None:
            return _error(404, "not_found", f"Data model {data_model_id} not found")
        if model.is_personal and not self.options.admin and model.owner_id != self.org.caller.member_id:
            return _error(403, "forbidden", f"No access to data model {data_model_id}")
        entry = model.to_api()
        entry["urlId"] = None if data_model_id == model.url_id else model.url_id
        return Response(200, entry)

    def _datasets(self, request: Request) -> Response:
        if self.options.datasets_gone:
            return _error(404, "not_found", "The datasets API has been removed")
        return self._page(self.org.datasets, request, envelope="full")

    def _teams(self, request: Request) -> Response:
        listed = [team.to_api() for team in self.org.teams]
        if "limit" not in request.query:
            return Response(200, listed)  # legacy bare array
        return self._page(listed, request, envelope="basic")

    def _team_members(self, request: Request, team_id: str) -> Response:
        team = next((t for t in self.org.teams if t.team_id == team_id), None)
        if team is None:
            return _error(404, "not_found", f"Team {team_id} not found")
        members = {m.member_id: m for m in self.org.members}
        listed = [self._member_entry(members[member_id]) for member_id in team.member_ids]
        return self._page(listed, request, envelope="basic")

    def _files(self, request: Request) -> Response:
        if request.query.get("typeFilters") != "workspace":
            return _error(400, "bad_request", "This test server lists only typeFilters=workspace")
        return self._page(self.org.visible_workspace_files(), request, envelope="full")

    # -- pagination ---------------------------------------------------------------------------------

    def _page(
        self,
        items: Sequence[Any],
        request: Request,
        *,
        envelope: Literal["full", "total", "basic", "token"],
    ) -> Response:
        size_param, token_param = ("pageSize", "pageToken") if envelope == "token" else ("limit", "page")
        raw_size = request.query.get(size_param)
        try:
            size = self.options.default_page_size if raw_size is None else int(raw_size)
        except ValueError:
            size = 0
        if not 1 <= size <= 1000:
            return _error(400, "bad_request", f"{size_param} must be an integer from 1 to 1000")
        offset = 0
        if token_param in request.query:
            decoded = _decode_token(request.query[token_param], request.path)
            if decoded is None:
                return _error(400, "bad_request", f"Invalid {token_param} token")
            offset = decoded
        entries = [_render(item) for item in items[offset : offset + size]]
        more = offset + size < len(items)
        next_offset = (size if self.options.repeat_page_token else offset + size) if more else None
        token = _encode_token(next_offset, request.path) if next_offset is not None else None
        if envelope == "token":
            return Response(200, {"entries": entries, "nextPageToken": token})
        body: dict[str, Any] = {"entries": entries, "nextPage": token}
        if envelope in ("full", "total"):
            body["total"] = len(items)
        if envelope == "full":
            body["hasMore"] = ("true" if more else "false") if self.options.has_more_as_string else more
        return Response(200, body)


def _render(item: Any) -> Any:
    """Org objects become API dicts only for the requested slice (large orgs, small pages)."""
    return item.to_api() if hasattr(item, "to_api") else item


def _encode_token(offset: int, path: str) -> str:
    payload = json.dumps({"o": offset, "p": path}, separators=(",", ":")).encode()
    return _TOKEN_PREFIX + base64.b64encode(payload).decode()


def _decode_token(token: str, path: str) -> int | None:
    if not token.startswith(_TOKEN_PREFIX):
        return None
    try:
        payload = json.loads(base64.b64decode(token[len(_TOKEN_PREFIX) :], validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("p") != path or not isinstance(payload.get("o"), int):
        return None
    return int(payload["o"])


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").strip().lower() == "true"


def _code_for(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        429: "too_many_requests",
        500: "internal_error",
        502: "bad_gateway",
        503: "service_unavailable",
        504: "gateway_timeout",
    }.get(status, f"http_{status}")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    request_id = secrets.token_hex(8)
    body = {"message": message, "code": code, "requestId": request_id}
    return Response(status, body, {"x-request-id": request_id, **(headers or {})})
