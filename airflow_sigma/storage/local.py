"""Local-folder backend (``file:///dir``): demos, tests and on-premise users with a mounted share."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from airflow_sigma.storage.errors import ExportAccessError, ExportStorageError
from airflow_sigma.storage.model import StoredObject
from airflow_sigma.storage.uri import ExportLocation
from airflow_sigma.storage.window import from_epoch_ns

log = logging.getLogger(__name__)
MAX_LOGGED = 5


def iter_local_objects(location: ExportLocation) -> Iterator[StoredObject]:
    """Every regular file under the folder, sub-folders included, that stays inside the folder.

    A symbolic link that resolves outside the folder is skipped, and so is an entry that cannot be
    read (a link pointing to itself, a sub-folder without permission): both are counted and logged,
    never fatal. The version string is ``<mtime_ns>-<size>``: it changes whenever the file is rewritten.

    :raises ExportStorageError: if the folder itself is missing or cannot be read.
    """
    root = location.prefix
    if not os.path.isdir(root):
        raise ExportStorageError(f"Local export folder {root} does not exist or is not a directory.")
    inside = os.path.join(os.path.realpath(root), "")
    outside: list[str] = []
    unreadable: list[str] = []

    def on_error(error: OSError) -> None:
        if os.path.realpath(str(error.filename)) == os.path.realpath(root):
            raise _storage_error(error, f"Cannot list local export folder {root}") from error
        unreadable.append(f"{error.filename}: {error.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            try:
                info = os.stat(path)
                real = os.path.realpath(path, strict=True)
            except FileNotFoundError:
                continue  # removed while listing, or a dangling link
            except OSError as error:  # a link pointing to itself, a permission denied...
                unreadable.append(f"{path}: {error.strerror}")
                continue
            if not real.startswith(inside):
                outside.append(path)
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            yield StoredObject(
                uri=location.object_uri(path),
                name=filename,
                size=info.st_size,
                last_modified=from_epoch_ns(info.st_mtime_ns),
                version=f"{info.st_mtime_ns}-{info.st_size}",
            )
    if outside:
        log.warning(
            "Skipped %d symbolic link(s) under %s that point outside the folder: %s",
            len(outside), root, ", ".join(outside[:MAX_LOGGED]),
        )  # fmt: skip
    if unreadable:
        log.warning(
            "Skipped %d entr(ies) under %s that cannot be read: %s",
            len(unreadable), root, "; ".join(unreadable[:MAX_LOGGED]),
        )  # fmt: skip


def open_local_file(path: str) -> BinaryIO:
    """Open one local export file for reading.

    :raises ExportStorageError: if it does not exist or cannot be read.
    """
    try:
        return open(path, "rb")
    except OSError as error:
        raise _storage_error(error, f"Cannot open export file file://{path}") from error


def _storage_error(error: OSError, what: str) -> ExportStorageError:
    """A permission the worker's user lacks is terminal (retrying cannot grant it); anything else (a
    share gone for a moment, a file removed since it was listed) may pass."""
    reason = error.strerror or str(error)
    if isinstance(error, PermissionError):
        return ExportAccessError(
            f"{what}: {reason}. The user the Airflow worker runs as must be able to read it; change "
            "the permissions or the folder."
        )
    return ExportStorageError(f"{what}: {reason}")
