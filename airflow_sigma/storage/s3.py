"""S3 backend, through the amazon provider's :class:`S3Hook` (sync) and its aiobotocore client (async).

Connection handling is the provider's: login/password (or ``aws_access_key_id`` /
``aws_secret_access_key`` extras), optional ``aws_session_token``, ``region_name`` and
``endpoint_url`` extras, and ambient credentials when the connection has no keys or does not
exist. On top of that, half a key pair is refused instead of silently falling back to ambient
credentials. boto imports stay inside functions: DAG files import this module.
"""

from __future__ import annotations

import asyncio
import logging
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
from airflow_sigma.storage.window import as_utc

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper
    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody

log = logging.getLogger(__name__)

_AMBIENT = "ambient credentials (environment, shared config, instance or task role)"


def check_aws_key_pair(config: AwsConnectionWrapper, aws_conn_id: str | None) -> None:
    """Refuse an access key id without its secret, or the reverse; the values are never shown.

    :param config: the provider's parsed connection.
    :param aws_conn_id: the connection id, for the message.
    :raises ExportConfigError: when exactly one half of a pair is set.
    """
    extra = config.extra_config or {}
    pairs = (
        ("login", "password", config.login, config.password),
        (
            "extra aws_access_key_id",
            "extra aws_secret_access_key",
            extra.get("aws_access_key_id"),
            extra.get("aws_secret_access_key"),
        ),
    )
    for key_field, secret_field, key, secret in pairs:
        if bool(key) != bool(secret):
            have, missing = (key_field, secret_field) if key else (secret_field, key_field)
            raise ExportConfigError(
                f"AWS connection {aws_conn_id!r} has half an access key pair: {have} is set but "
                f"{missing} is empty. Give both the access key id and the secret access key, or "
                f"neither to use {_AMBIENT}."
            )


def s3_hook(aws_conn_id: str | None) -> S3Hook:
    """An :class:`S3Hook` for ``aws_conn_id``, with its key pair checked."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    check_aws_key_pair(hook.conn_config, aws_conn_id)
    return hook


#: Error codes that mean the credentials themselves are refused (fix the connection).
_REJECTED_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
#: Error codes that mean valid credentials lack a permission on the bucket (grant it).
_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"})
#: Error codes that mean the bucket is in another region than the connection's.
_WRONG_REGION = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed", "301"})


def s3_error(error: Exception, *, action: str, uri: str, bucket: str, aws_conn_id: str | None) -> Exception:
    """Translate a botocore error into one that says what to check, on the branch that says whether a
    retry can help: a missing bucket or one in another region (:class:`ExportLocationError`) and
    refused or insufficient credentials (:class:`ExportAccessError`) are terminal; throttling, 5xx,
    timeouts, dropped connections and an object gone since it was listed are transient."""
    from botocore.exceptions import ClientError, NoCredentialsError

    where = f"{action} {uri} with AWS connection {aws_conn_id!r}"
    if isinstance(error, NoCredentialsError):
        return ExportConfigError(
            f"No AWS credentials found while {where}: the connection has no access key and no {_AMBIENT} "
            f"are available."
        )
    if not isinstance(error, ClientError):
        return ExportStorageError(f"S3 request failed while {where}: {error}")
    code, message = _client_error_details(error)
    if code == "NoSuchBucket" or (action == "listing" and code in ("404", "NotFound")):
        return ExportLocationError(
            f"S3 bucket {bucket!r} does not exist ({where}). Check the bucket name in bucket_uri and the "
            f"connection's endpoint_url, or create the bucket and point Sigma's export at it."
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return ExportStorageError(
            f"Not found: no such S3 object ({where}); it may have been deleted since it was listed."
        )
    if code in _WRONG_REGION:
        return ExportLocationError(
            f"S3 bucket {bucket!r} is in another region than AWS connection {aws_conn_id!r} uses ({code}, "
            f"{where}): set the connection's region_name extra to the bucket's region."
        )
    if code in _REJECTED_CREDENTIALS:
        return ExportAccessError(
            f"AWS rejected the credentials of connection {aws_conn_id!r} ({code}) while {action} {uri}: "
            f"fix the access key id and secret (and session token) in the connection, or remove them to "
            f"use {_AMBIENT}."
        )
    if code in _DENIED:
        return ExportAccessError(
            f"Access denied ({code}) while {where}: grant the connection's identity s3:ListBucket on bucket "
            f"{bucket!r} for the prefix and s3:GetObject on its objects (and kms:Decrypt if they are "
            f"encrypted with a KMS key)."
        )
    return ExportStorageError(f"S3 error while {where}: {code}: {message}")


def _client_error_details(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    code = str(details.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code, str(details.get("Message", ""))


def _stored_object(location: ExportLocation, item: dict[str, Any]) -> StoredObject | None:
    key: str = item["Key"]
    if key.endswith("/"):
        return None  # a "folder" marker, not a file
    return StoredObject(
        uri=location.object_uri(key),
        name=key.rsplit("/", 1)[-1],
        size=int(item.get("Size", 0)),
        last_modified=as_utc(item["LastModified"]),
        version=str(item.get("ETag", "")).strip('"'),
    )


def iter_s3_objects(location: ExportLocation) -> Iterator[StoredObject]:
    """Every object under the prefix (ListObjectsV2, paged 1,000 at a time by the hook)."""
    from botocore.exceptions import BotoCoreError, ClientError

    hook = s3_hook(location.aws_conn_id)
    try:
        for item in hook.iter_file_metadata(prefix=location.prefix, bucket_name=location.bucket):
            obj = _stored_object(location, item)
            if obj is not None:
                yield obj
    except (BotoCoreError, ClientError) as error:
        raise s3_error(
            error,
            action="listing",
            uri=location.uri,
            bucket=location.bucket,
            aws_conn_id=location.aws_conn_id,
        ) from error


def open_s3_object(hook: S3Hook, ref: ObjectRef) -> StreamingBody:
    """Start a streaming GET of one object; the body is read in chunks as the caller reads."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return hook.get_key(ref.key, bucket_name=ref.bucket).get()["Body"]
    except (BotoCoreError, ClientError) as error:
        raise s3_error(
            error, action="opening", uri=ref.uri, bucket=ref.bucket, aws_conn_id=hook.aws_conn_id
        ) from error


async def async_s3_client(aws_conn_id: str | None) -> Any:
    """An aiobotocore S3 client context (use with ``async with``), for triggers.

    The connection is fetched the Airflow 3 way (:func:`get_async_connection`); the provider's hook
    would otherwise fetch it synchronously. Parsing it reads ``extra_dejson``, which masks secrets
    with a synchronous call, so that runs in a worker thread.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper
    from airflow.providers.common.compat.connection import get_async_connection

    connection = None
    if aws_conn_id:
        try:
            connection = await get_async_connection(aws_conn_id)
        except AirflowNotFoundException:
            log.warning("AWS connection %r not found; using %s.", aws_conn_id, _AMBIENT)
    config = await asyncio.to_thread(AwsConnectionWrapper, conn=connection)
    check_aws_key_pair(config, aws_conn_id)
    hook = S3Hook(aws_conn_id=aws_conn_id)
    hook.__dict__["conn_config"] = config  # pre-fill the hook's cached_property: no second, sync fetch
    return await hook.get_async_conn()


async def aiter_s3_objects(client: Any, location: ExportLocation) -> AsyncIterator[StoredObject]:
    """Every object under the prefix, listed with an aiobotocore client from :func:`async_s3_client`."""
    from botocore.exceptions import BotoCoreError, ClientError

    paginator = client.get_paginator("list_objects_v2")
    try:
        async for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
            for item in page.get("Contents", ()):
                obj = _stored_object(location, item)
                if obj is not None:
                    yield obj
    except (BotoCoreError, ClientError) as error:
        raise s3_error(
            error,
            action="listing",
            uri=location.uri,
            bucket=location.bucket,
            aws_conn_id=location.aws_conn_id,
        ) from error
