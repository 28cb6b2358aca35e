"""GCS backend, through the google provider's :class:`GCSHook` (sync) and :class:`GCSAsyncHook` (async).

Credentials come from the ``google_cloud_platform`` connection as the provider reads it (key file,
key JSON, impersonation, ...); a connection without key fields uses Application Default
Credentials, and ``is_anonymous`` gives anonymous access (public buckets, the test emulator).
Google imports stay inside functions: DAG files import this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from airflow_sigma.storage.errors import (
    ExportAccessError,
    ExportConfigError,
    ExportLocationError,
    ExportStorageError,
)
from airflow_sigma.storage.model import StoredObject
from airflow_sigma.storage.uri import ExportLocation, ObjectRef
from airflow_sigma.storage.window import as_utc, parse_timestamp

if TYPE_CHECKING:
    from google.cloud.storage import Client
    from google.cloud.storage.fileio import BlobReader

MAX_PAGES = 100_000  # a runaway page-token loop fails instead of spinning forever


def _missing_connection(gcp_conn_id: str | None) -> ExportConfigError:
    return ExportConfigError(
        f"Google Cloud connection {gcp_conn_id!r} is not defined. Create a connection of type "
        f"google_cloud_platform; leave its key fields empty to use Application Default Credentials."
    )


def gcs_client(gcp_conn_id: str | None) -> Client:
    """A ``google.cloud.storage.Client`` built by :class:`GCSHook` from ``gcp_conn_id``."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.google.cloud.hooks.gcs import GCSHook
    from google.auth.exceptions import DefaultCredentialsError

    if not gcp_conn_id:
        raise _missing_connection(gcp_conn_id)
    try:
        return GCSHook(gcp_conn_id=gcp_conn_id).get_conn()
    except AirflowNotFoundException as error:
        raise _missing_connection(gcp_conn_id) from error
    except DefaultCredentialsError as error:
        raise ExportConfigError(
            f"Google Cloud connection {gcp_conn_id!r} has no key and no Application Default Credentials "
            f"were found: {error}"
        ) from error


def gcs_error(error: Exception, *, action: str, uri: str, bucket: str, gcp_conn_id: str | None) -> Exception:
    """Translate a google or aiohttp error into one that says what to check, on the branch that says
    whether a retry can help: a missing bucket (:class:`ExportLocationError`) and refused or
    insufficient credentials (:class:`ExportAccessError`, also when google-auth cannot get or refresh
    a token) are terminal; 429, 5xx, timeouts, dropped connections (google-auth's TransportError
    included) and an object gone since it was listed are transient."""
    from google.auth.exceptions import GoogleAuthError, TransportError

    # aiohttp errors carry .status; google.api_core errors carry the HTTP status as .code.
    status = getattr(error, "status", None) or getattr(error, "code", None)
    where = f"{action} {uri} with Google Cloud connection {gcp_conn_id!r}"
    refused = isinstance(error, GoogleAuthError) and not isinstance(error, TransportError)
    if refused or status == 401:
        reason = "HTTP 401" if status == 401 else "no token could be obtained"
        return ExportAccessError(
            f"Google Cloud rejected the credentials of connection {gcp_conn_id!r} ({reason}) while {action} "
            f"{uri}: fix the connection's key (key path, key JSON or impersonation chain), or leave its key "
            f"fields empty to use Application Default Credentials."
        )
    if status == 404:
        if action == "listing":
            return ExportLocationError(
                f"GCS bucket {bucket!r} does not exist ({where}). Check the bucket name in bucket_uri, or "
                f"create the bucket and point Sigma's export at it."
            )
        return ExportStorageError(
            f"Not found: no such GCS object ({where}); it may have been deleted since it was listed."
        )
    if status == 403:
        return ExportAccessError(
            f"Access denied (HTTP 403) while {where}: grant the connection's identity storage.objects.list "
            f"and storage.objects.get on bucket {bucket!r} (e.g. roles/storage.objectViewer)."
        )
    return ExportStorageError(f"GCS error while {where}: {error}")


def iter_gcs_objects(location: ExportLocation) -> Iterator[StoredObject]:
    """Every object under the prefix; the client follows page tokens."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    client = gcs_client(location.gcp_conn_id)
    try:
        for blob in client.list_blobs(location.bucket, prefix=location.prefix or None):
            if blob.name.endswith("/"):
                continue
            yield StoredObject(
                uri=location.object_uri(blob.name),
                name=blob.name.rsplit("/", 1)[-1],
                size=int(blob.size or 0),
                last_modified=as_utc(blob.updated),
                version=str(blob.generation),
            )
    except (GoogleAPIError, GoogleAuthError) as error:
        raise gcs_error(
            error,
            action="listing",
            uri=location.uri,
            bucket=location.bucket,
            gcp_conn_id=location.gcp_conn_id,
        ) from error


def open_gcs_object(client: Client, ref: ObjectRef, gcp_conn_id: str | None, chunk_size: int) -> BlobReader:
    """A reader fetching the object ``chunk_size`` bytes at a time (ranged GETs of one generation)."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    blob = client.bucket(ref.bucket).blob(ref.key)
    try:
        blob.reload()  # fails clearly now if missing, and pins the generation read below
        return blob.open("rb", chunk_size=chunk_size)
    except (GoogleAPIError, GoogleAuthError) as error:
        raise gcs_error(
            error, action="opening", uri=ref.uri, bucket=ref.bucket, gcp_conn_id=gcp_conn_id
        ) from error


async def async_gcs_storage(gcp_conn_id: str | None, session: Any) -> Any:
    """A gcloud-aio ``Storage`` client for triggers, made by the provider's :class:`GCSAsyncHook`.

    The connection is fetched first the Airflow 3 way (:func:`get_async_connection`), which also
    gives a clear error when it is missing. The hook then builds its credentials in a worker thread.

    :param gcp_conn_id: the connection id.
    :param session: the ``aiohttp.ClientSession`` the client uses.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.common.compat.connection import get_async_connection
    from airflow.providers.google.cloud.hooks.gcs import GCSAsyncHook

    if not gcp_conn_id:
        raise _missing_connection(gcp_conn_id)
    try:
        await get_async_connection(gcp_conn_id)
    except AirflowNotFoundException as error:
        raise _missing_connection(gcp_conn_id) from error
    hook = GCSAsyncHook(gcp_conn_id=gcp_conn_id)
    sync_hook = await hook.get_sync_hook()
    # Resolve (and cache) credentials off the event loop: ADC may call the metadata server.
    await asyncio.to_thread(sync_hook.get_credentials_and_project_id)
    return await hook.get_storage_client(session)


async def aiter_gcs_objects(storage: Any, location: ExportLocation) -> AsyncIterator[StoredObject]:
    """Every object under the prefix, listed with the client from :func:`async_gcs_storage`."""
    from aiohttp import ClientError

    page_token: str | None = None
    for _ in range(MAX_PAGES):
        params = {"prefix": location.prefix} if location.prefix else {}
        if page_token:
            params["pageToken"] = page_token
        try:
            page = await storage.list_objects(location.bucket, params=params)
        except ClientError as error:
            raise gcs_error(
                error,
                action="listing",
                uri=location.uri,
                bucket=location.bucket,
                gcp_conn_id=location.gcp_conn_id,
            ) from error
        for item in page.get("items", ()):
            name: str = item["name"]
            if name.endswith("/"):
                continue
            yield StoredObject(
                uri=location.object_uri(name),
                name=name.rsplit("/", 1)[-1],
                size=int(item.get("size", 0)),
                last_modified=parse_timestamp(item["updated"], field="updated"),
                version=str(item.get("generation", "")),
            )
        page_token = page.get("nextPageToken")
        if not page_token:
            return
    raise ExportStorageError(f"Listing {location.uri} did not finish after {MAX_PAGES} pages.")
