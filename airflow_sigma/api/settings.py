"""Validate Sigma connection fields (host, login, password, extra) into settings for :class:`SigmaClient`.

Plain Python, no Airflow: the hook passes the fields of an Airflow ``Connection`` in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_sigma.api.errors import SigmaConfigError
from airflow_sigma.api.regions import AUTO, normalize_base_url, normalize_cloud_key, resolve_base_url

log = logging.getLogger(__name__)

KNOWN_EXTRA_KEYS = frozenset({"cloud", "allow_custom_host"})
# Airflow 2's connection form stored custom fields as ``extra__<conn_type>__<field>``.
LEGACY_EXTRA_PREFIX = "extra__sigma__"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


@dataclass(frozen=True)
class SigmaSettings:
    """Validated connection settings.

    :param client_id: OAuth client id (connection login).
    :param client_secret: OAuth client secret (connection password); never shown in the repr.
    :param base_url: the API base URL, or ``None`` when ``cloud`` is ``"auto"``.
    :param cloud: the cloud key the base URL came from, ``"auto"``, or ``None`` for an explicit host.
    :param allow_custom_host: allow hosts outside ``https://*.sigmacomputing.com``.
    """

    client_id: str
    client_secret: str = field(repr=False)
    base_url: str | None
    cloud: str | None
    allow_custom_host: bool = False

    @classmethod
    def from_connection_fields(
        cls,
        *,
        conn_id: str,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: str | Mapping[str, Any] | None,
        port: int | None = None,
        schema: str | None = None,
        known_hosts: Mapping[str, str] | None = None,
    ) -> SigmaSettings:
        """Build settings from the fields of an Airflow connection.

        :param conn_id: the connection id, used in error messages.
        :param host: API base URL or bare host; empty when the extra ``cloud`` is used.
        :param login: client id.
        :param password: client secret.
        :param extra: the connection extra, as JSON text or an already-parsed mapping.
        :param port: the connection port, appended to a host that has none.
        :param schema: the connection schema; only empty or ``v2`` (from a ``.../v2`` URI) is accepted.
        :param known_hosts: replaces ``CLOUD_HOSTS`` (tests point cloud keys at local servers).
        """
        where = f"Sigma connection {conn_id!r}"
        extras = parse_extra(extra, where=where)
        if not (login or "").strip():
            raise SigmaConfigError(f"{where} has no client id: put it in the login (Client ID) field.")
        if not password:
            raise SigmaConfigError(
                f"{where} has no client secret: put it in the password (Client Secret) field."
            )
        if schema and schema.strip().strip("/").lower() not in ("", "v2"):
            raise SigmaConfigError(
                f"{where} has schema/path {schema!r}; expected nothing or 'v2' (the API base URL)."
            )
        host = _with_port(host, port)
        cloud = normalize_cloud_key(extras.get("cloud"), known_hosts=known_hosts)
        allow_custom_host = parse_bool(extras.get("allow_custom_host", False), name="allow_custom_host")
        if cloud == AUTO and not (host or "").strip():
            base_url = None
        else:
            base_url = resolve_base_url(host, cloud, known_hosts=known_hosts)
        return cls(
            client_id=(login or "").strip(),
            client_secret=password,
            base_url=base_url,
            cloud=cloud,
            allow_custom_host=allow_custom_host,
        )


def parse_extra(extra: str | Mapping[str, Any] | None, *, where: str) -> dict[str, Any]:
    """Parse a connection extra; refuse anything that is not a JSON object.

    The message never quotes the extra itself, which may hold secrets.

    :param extra: JSON text, a mapping, or ``None``.
    :param where: names the connection in error messages.
    """
    if extra is None or (isinstance(extra, str) and not extra.strip()):
        return {}
    if isinstance(extra, str):
        try:
            parsed = json.loads(extra)
        except json.JSONDecodeError as exc:
            raise SigmaConfigError(
                f"The extra of {where} is not valid JSON ({exc.msg} at line {exc.lineno} column "
                f'{exc.colno}); expected an object such as {{"cloud": "aws-us-west"}}.'
            ) from None
    else:
        parsed = extra
    if not isinstance(parsed, Mapping):
        raise SigmaConfigError(
            f"The extra of {where} must be a JSON object, got {type(parsed).__name__}; "
            'for example {"cloud": "aws-us-west"}.'
        )
    extras = {
        str(key).removeprefix(LEGACY_EXTRA_PREFIX): value
        for key, value in parsed.items()
        if str(key).startswith(LEGACY_EXTRA_PREFIX) and value not in (None, "")
    }
    extras.update(
        (str(key), value) for key, value in parsed.items() if not str(key).startswith(LEGACY_EXTRA_PREFIX)
    )
    unknown = sorted(key for key in extras if key not in KNOWN_EXTRA_KEYS)
    if unknown:
        log.warning(
            "%s: ignoring unknown extra keys %s (known: %s)", where, unknown, sorted(KNOWN_EXTRA_KEYS)
        )
    return extras


def parse_bool(value: Any, *, name: str) -> bool:
    """Accept a JSON boolean or the strings a URI query carries (``true``/``false``/``1``/``0``...).

    :param value: the raw extra value.
    :param name: the extra key, for the error message.
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise SigmaConfigError(f"Extra {name!r} must be true or false, got {value!r}.")


def _with_port(host: str | None, port: int | None) -> str | None:
    if not host or not host.strip() or not port:
        return host
    text = host.strip()
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"https://{text}")
    if parts.port is not None:
        return host
    normalized = normalize_base_url(text)
    scheme, rest = normalized.split("://", 1)
    hostname, _, path = rest.partition("/")
    return f"{scheme}://{hostname}:{int(port)}" + (f"/{path}" if path else "")
