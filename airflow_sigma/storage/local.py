"""Local-folder backend (``file:///dir``): demos, tests and on-premise users with a mounted share."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from airflow_sigma.storage.errors import ExportStorageError
from airflow_sigma.storage.model import StoredObject
from airflow_sigma.storage.uri import ExportLocation
from airflow_sigma.storage.window import from_epoch_ns


def iter_local_objects(location: ExportLocation) -> Iterator[StoredObject]:
    """Every regular file under the folder, sub-folders included.

    The version string is ``<mtime_ns>-<size>``: it changes whenever the file is rewritten.

    :raises ExportStorageError: if the folder is missing or cannot be read.
    """
    root = location.prefix
    if not os.path.isdir(root):
        raise ExportStorageError(f"Local export folder {root} does not exist or is not a directory.")

    def fail(error: OSError) -> None:
        raise ExportStorageError(f"Cannot list local export folder {root}: {error}") from error

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            try:
                info = os.stat(path)
            except FileNotFoundError:
                continue  # removed while listing
            if not stat.S_ISREG(info.st_mode):
                continue
            yield StoredObject(
                uri=location.object_uri(path),
                name=filename,
                size=info.st_size,
                last_modified=from_epoch_ns(info.st_mtime_ns),
                version=f"{info.st_mtime_ns}-{info.st_size}",
            )


def open_local_file(path: str) -> BinaryIO:
    """Open one local export file for reading.

    :raises ExportStorageError: if it does not exist or cannot be read.
    """
    try:
        return open(path, "rb")
    except OSError as error:
        raise ExportStorageError(
            f"Cannot open export file file://{path}: {error.strerror or error}"
        ) from error
