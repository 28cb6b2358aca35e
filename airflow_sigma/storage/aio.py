"""Async listing for triggers: the same scan as :func:`scan_exports`, without blocking the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from airflow_sigma.storage.model import ExportScan, StoredObject, select_exports
from airflow_sigma.storage.patterns import DEFAULT_PATTERNS, normalise_patterns
from airflow_sigma.storage.uri import ExportLocation
from airflow_sigma.storage.window import ExportWindow


class AsyncExportScanner:
    """Scans one location repeatedly with one client (async context manager).

    S3 uses the amazon provider's aiobotocore client, GCS the google provider's gcloud-aio client;
    local folders are listed in a worker thread.

    :param location: from :func:`parse_export_uri`.
    """

    def __init__(self, location: ExportLocation) -> None:
        self.location = location
        self._stack = AsyncExitStack()
        self._client: Any = None

    async def __aenter__(self) -> AsyncExportScanner:
        try:
            await self._connect()
        except BaseException:
            await self._stack.aclose()  # __aexit__ does not run when __aenter__ fails
            raise
        return self

    async def _connect(self) -> None:
        if self.location.scheme == "s3":
            from airflow_sigma.storage.s3 import async_s3_client

            context = await async_s3_client(self.location.aws_conn_id)
            self._client = await self._stack.enter_async_context(context)
        elif self.location.scheme == "gs":
            import aiohttp

            from airflow_sigma.storage.gcs import async_gcs_storage

            session = await self._stack.enter_async_context(aiohttp.ClientSession())
            self._client = await async_gcs_storage(self.location.gcp_conn_id, session)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def scan(
        self, window: ExportWindow, *, patterns: str | Iterable[str] = DEFAULT_PATTERNS
    ) -> ExportScan:
        """List the location and keep matching files in ``window``, oldest first."""
        globs = normalise_patterns(patterns)
        if self.location.scheme == "file":
            from airflow_sigma.storage.local import iter_local_objects

            objects = await asyncio.to_thread(lambda: list(iter_local_objects(self.location)))
        else:
            objects = [obj async for obj in self._iter_remote()]
        return select_exports(self.location, objects, window, globs)

    def _iter_remote(self) -> AsyncIterator[StoredObject]:
        if self._client is None:
            raise RuntimeError("AsyncExportScanner must be used as 'async with AsyncExportScanner(...)'.")
        if self.location.scheme == "s3":
            from airflow_sigma.storage.s3 import aiter_s3_objects

            return aiter_s3_objects(self._client, self.location)
        from airflow_sigma.storage.gcs import aiter_gcs_objects

        return aiter_gcs_objects(self._client, self.location)
