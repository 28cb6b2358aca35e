"""``SigmaHook``: a :class:`~airflow_sigma.api.client.SigmaClient` built from an Airflow connection.

Connection fields: login = client id, password = client secret, host = API base URL (or empty, with the
extra ``cloud`` set to a region key or ``auto``); extra ``allow_custom_host`` for a proxy or a local
test server. The client is created on first use and shared by every thread of the task.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from airflow_sigma.api.client import SigmaClient
    from airflow_sigma.api.settings import SigmaSettings


class SigmaHook(BaseHook):
    """Talk to Sigma's REST API with the OAuth client credentials of an Airflow connection.

    :param sigma_conn_id: the Airflow connection id (type ``sigma``).
    :param timeout: seconds for connecting and for reading each response.
    :param max_retries: retries of a GET on 429/502/503/504 or a connection error.
    :param pool_size: HTTP connections kept open; at least the number of threads sharing the hook.
    :param known_hosts: cloud key → API host, replacing ``CLOUD_HOSTS`` (tests point keys at local servers).
    :param client_kwargs: further keyword arguments for ``SigmaClient`` (backoff, retry budget...).
    """

    conn_name_attr = "sigma_conn_id"
    default_conn_name = "sigma_default"
    conn_type = "sigma"
    hook_name = "Sigma"

    def __init__(
        self,
        sigma_conn_id: str = default_conn_name,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        pool_size: int = 16,
        known_hosts: Mapping[str, str] | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.sigma_conn_id = sigma_conn_id
        self.timeout = timeout
        self.max_retries = max_retries
        self.pool_size = pool_size
        self.known_hosts = dict(known_hosts) if known_hosts is not None else None
        self.client_kwargs = dict(client_kwargs or {})
        self._client: SigmaClient | None = None
        self._client_lock = threading.Lock()

    def get_settings(self) -> SigmaSettings:
        """Read and validate the connection (raises ``SigmaConfigError`` with the reason)."""
        from airflow.sdk.log import mask_secret

        from airflow_sigma.api.settings import SigmaSettings

        conn = self.get_connection(self.sigma_conn_id)
        if conn.password:
            mask_secret(conn.password)
        return SigmaSettings.from_connection_fields(
            conn_id=self.sigma_conn_id,
            host=conn.host,
            port=conn.port,
            schema=conn.schema,
            login=conn.login,
            password=conn.password,
            extra=conn.extra,
            known_hosts=self.known_hosts,
        )

    def get_client(self) -> SigmaClient:
        """Return the client for this connection, creating it on first use (thread-safe)."""
        with self._client_lock:
            if self._client is None:
                from airflow_sigma.api.client import SigmaClient

                kwargs: dict[str, Any] = {
                    "timeout": self.timeout,
                    "max_retries": self.max_retries,
                    "pool_size": self.pool_size,
                    "on_token": _mask_token,
                    **self.client_kwargs,
                }
                self._client = SigmaClient.from_settings(
                    self.get_settings(), known_hosts=self.known_hosts, **kwargs
                )
                self.log.info("Sigma connection %r uses %s", self.sigma_conn_id, self._client.base_url)
            return self._client

    def get_conn(self) -> SigmaClient:
        """Airflow's conventional accessor: the same as :meth:`get_client`."""
        return self.get_client()

    def close(self) -> None:
        """Close the client's pooled connections; the next call builds a new client."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials and host with ``GET /v2/whoami``; never raises."""
        from airflow_sigma.api.errors import SigmaError

        client: SigmaClient | None = None
        try:
            client = self.get_client()
            me = client.whoami()
        except SigmaError as exc:
            return False, str(exc)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            return False, client.redact(text) if client is not None else text
        cloud = f" (cloud {client.cloud})" if client.cloud else ""
        me = me if isinstance(me, dict) else {}
        return True, (  # the ids are server-supplied: redacted like any server text
            f"Connected to Sigma at {client.base_url}{cloud} as user {client.redact(me.get('userId'))} "
            f"of organization {client.redact(me.get('organizationId'))}."
        )

    # -- typed API, delegated to the client ----------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """``GET /v2/whoami``: ``{"userId": ..., "organizationId": ...}``."""
        return self.get_client().whoami()

    def list_workbooks(
        self,
        *,
        skip_permission_check: bool = False,
        exclude_explorations: bool = False,
        is_archived: bool | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Yield workbooks; see ``SigmaClient.list_workbooks``.

        :param skip_permission_check: admins only: every workbook, including other users' My Documents.
        :param exclude_explorations: with ``skip_permission_check``, leave out explorations.
        :param is_archived: ``True`` for archived workbooks, ``False`` for the others, ``None`` for default.
        :param page_size: entries per request, 1..1000.
        """
        return self.get_client().list_workbooks(
            skip_permission_check=skip_permission_check,
            exclude_explorations=exclude_explorations,
            is_archived=is_archived,
            page_size=page_size,
        )

    def list_workbook_pages(self, workbook_id: str, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Yield the pages of a workbook.

        :param workbook_id: the workbook UUID.
        :param page_size: entries per request, 1..1000.
        """
        return self.get_client().list_workbook_pages(workbook_id, page_size=page_size)

    def list_page_elements(
        self, workbook_id: str, page_id: str, *, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield the elements of a workbook page.

        :param workbook_id: the workbook UUID.
        :param page_id: the page id.
        :param page_size: entries per request, 1..1000.
        """
        return self.get_client().list_page_elements(workbook_id, page_id, page_size=page_size)

    def list_workspaces(self, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Yield workspaces.

        :param page_size: entries per request, 1..1000.
        """
        return self.get_client().list_workspaces(page_size=page_size)

    def list_members(
        self, *, include_archived: bool = True, include_inactive: bool = True, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield organisation members.

        :param include_archived: include archived members.
        :param include_inactive: include inactive members.
        :param page_size: entries per request, 1..1000.
        """
        return self.get_client().list_members(
            include_archived=include_archived, include_inactive=include_inactive, page_size=page_size
        )

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield every entry of any list endpoint.

        :param path: API path, e.g. ``/v2/workbooks``.
        :param params: extra query parameters.
        :param page_size: entries per request, 1..1000.
        """
        return self.get_client().paginate(path, params, page_size=page_size)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET an API path and return its parsed JSON.

        :param path: API path, e.g. ``/v2/workbooks/{id}``.
        :param params: query parameters.
        """
        return self.get_client().get(path, params)


def _mask_token(token: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(token)
