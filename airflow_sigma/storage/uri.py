"""Parsing and normalising export locations: ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``file:///dir``.

Parsing is plain string work rather than :func:`urllib.parse.urlsplit`, because object keys may
legitimately contain ``?`` and ``#``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from airflow_sigma.storage.errors import ExportConfigError

Scheme = Literal["s3", "gs", "file"]

ACCEPTED_FORMS = "s3://bucket/prefix, gs://bucket/prefix or file:///absolute/dir"
DEFAULT_AWS_CONN_ID = "aws_default"
DEFAULT_GCP_CONN_ID = "google_cloud_default"

# S3 and GCS bucket names: lower-case letters, digits, dots, hyphens (GCS also allows underscores).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


@dataclass(frozen=True)
class ExportLocation:
    """A normalised export location plus the connection used to reach it.

    :param scheme: ``s3``, ``gs`` or ``file``.
    :param bucket: the bucket name; empty for ``file``.
    :param prefix: for buckets, the key prefix, empty or ending in ``/``; for ``file``, the absolute
        directory path ending in ``/``.
    :param aws_conn_id: Airflow connection for ``s3`` locations (None: ambient AWS credentials).
    :param gcp_conn_id: Airflow connection for ``gs`` locations.
    """

    scheme: Scheme
    bucket: str
    prefix: str
    aws_conn_id: str | None = DEFAULT_AWS_CONN_ID
    gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID

    @property
    def uri(self) -> str:
        """The normalised URI, always ending in ``/``."""
        return self.object_uri(self.prefix)

    @property
    def conn_id(self) -> str | None:
        """The connection id this location is read with (None for local folders)."""
        if self.scheme == "s3":
            return self.aws_conn_id
        if self.scheme == "gs":
            return self.gcp_conn_id
        return None

    def object_uri(self, key: str) -> str:
        """The URI of an object, given its full key (for ``file``, its absolute path)."""
        if self.scheme == "file":
            return f"file://{key}"
        return f"{self.scheme}://{self.bucket}/{key}"

    def describe(self) -> str:
        """The location and its connection, for log lines and error messages."""
        if self.scheme == "file":
            return f"local folder {self.prefix}"
        return f"{self.uri} (connection {self.conn_id!r})"


@dataclass(frozen=True)
class ObjectRef:
    """One object (export file) addressed by URI.

    :param scheme: ``s3``, ``gs`` or ``file``.
    :param bucket: the bucket name; empty for ``file``.
    :param key: the object key; for ``file``, the absolute path.
    """

    scheme: Scheme
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        if self.scheme == "file":
            return f"file://{self.key}"
        return f"{self.scheme}://{self.bucket}/{self.key}"


def is_templated(value: object) -> bool:
    """Whether ``value`` is an unrendered Jinja template (validated after rendering, at execute)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def parse_export_uri(
    uri: str,
    *,
    aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
    gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID,
) -> ExportLocation:
    """Validate and normalise an export location.

    Trailing and doubled slashes are normalised away (``s3://b//a//b`` is ``s3://b/a/b/``), so the
    prefix always names a folder: ``s3://b/exports`` does not also match ``s3://b/exports-old/``.

    :param uri: ``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``file:///absolute/dir``.
    :param aws_conn_id: connection for ``s3`` locations.
    :param gcp_conn_id: connection for ``gs`` locations.
    :raises ExportConfigError: for anything else, with a message listing the accepted forms.
    """
    scheme, rest = _split_scheme(uri, what="export location")
    if scheme == "file":
        directory = _local_path(rest, uri)
        if directory == "/":
            raise ExportConfigError(
                f"The local export folder {uri.strip()!r} is the root of the filesystem, which would list "
                "every file of the machine: name the folder Sigma's exports land in (file:///absolute/dir)."
            )
        prefix = directory if directory.endswith("/") else directory + "/"
        return ExportLocation("file", "", prefix, aws_conn_id, gcp_conn_id)
    bucket, key = _split_bucket(scheme, rest, uri)
    prefix = "/".join(part for part in key.split("/") if part)
    return ExportLocation(scheme, bucket, prefix + "/" if prefix else "", aws_conn_id, gcp_conn_id)


def parse_object_uri(uri: str) -> ObjectRef:
    """Validate the URI of one export file (as listed by :func:`list_exports`).

    :param uri: ``s3://bucket/key``, ``gs://bucket/key`` or ``file:///absolute/path``.
    :raises ExportConfigError: if it is not one of those or names a folder rather than a file.
    """
    scheme, rest = _split_scheme(uri, what="export file URI")
    if scheme == "file":
        path = _local_path(rest, uri)
        if rest.endswith("/"):
            raise ExportConfigError(f"Export file URI {uri!r} names a folder, not a file.")
        return ObjectRef("file", "", path)
    bucket, key = _split_bucket(scheme, rest, uri)
    if not key or key.endswith("/"):
        raise ExportConfigError(
            f"Export file URI {uri!r} names a bucket or folder, not a file: expected {scheme}://bucket/key."
        )
    return ObjectRef(scheme, bucket, key)


def _split_scheme(uri: object, *, what: str) -> tuple[Scheme, str]:
    if not isinstance(uri, str) or not uri.strip():
        raise ExportConfigError(f"The {what} must be a non-empty string: {ACCEPTED_FORMS} (got {uri!r}).")
    text = uri.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("s3", "gs", "file"):
        raise ExportConfigError(f"Unsupported {what} {text!r}: expected {ACCEPTED_FORMS}.")
    return scheme, rest  # type: ignore[return-value]


def _split_bucket(scheme: str, rest: str, uri: str) -> tuple[str, str]:
    bucket, _, key = rest.partition("/")
    if "@" in bucket or ":" in bucket:
        # Possibly credentials (user:secret@bucket): never echo them back.
        raise ExportConfigError(
            f"A {scheme}:// location must not carry credentials or a connection id before the bucket "
            f"name; set them on the Airflow connection instead. Expected {ACCEPTED_FORMS}."
        )
    if not _BUCKET_RE.match(bucket):
        raise ExportConfigError(
            f"Invalid bucket name {bucket!r} in {uri.strip()!r}: bucket names are 3-222 lower-case "
            f"letters, digits, dots, hyphens or underscores. Expected {ACCEPTED_FORMS}."
        )
    return bucket, key


def _local_path(rest: str, uri: str) -> str:
    host, slash, path = rest.partition("/")
    if host not in ("", "localhost") or not slash:
        raise ExportConfigError(
            f"Invalid local folder {uri.strip()!r}: file URIs need an absolute path, written with three "
            f"slashes (file:///absolute/dir). Expected {ACCEPTED_FORMS}."
        )
    # normpath keeps a leading "//" (POSIX allows it), so collapse slashes first.
    return os.path.normpath(re.sub(r"/+", "/", "/" + path))
