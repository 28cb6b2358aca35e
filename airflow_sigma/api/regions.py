"""Sigma API hosts by cloud and region (reference: Sigma's OpenAPI ``servers`` list), and host checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from airflow_sigma.api.errors import SigmaConfigError

CLOUD_HOSTS: dict[str, str] = {
    "aws-us-west": "https://aws-api.sigmacomputing.com",
    "aws-us-east": "https://api.us-a.aws.sigmacomputing.com",
    "aws-ca": "https://api.ca.aws.sigmacomputing.com",
    "aws-eu": "https://api.eu.aws.sigmacomputing.com",
    "aws-uk": "https://api.uk.aws.sigmacomputing.com",
    "aws-au": "https://api.au.aws.sigmacomputing.com",
    "azure-us": "https://api.us.azure.sigmacomputing.com",
    "azure-eu": "https://api.eu.azure.sigmacomputing.com",
    "azure-ca": "https://api.ca.azure.sigmacomputing.com",
    "azure-uk": "https://api.uk.azure.sigmacomputing.com",
    "gcp-us": "https://api.sigmacomputing.com",
    "gcp-sa": "https://api.sa.gcp.sigmacomputing.com",
}

AUTO = "auto"
SIGMA_DOMAIN = "sigmacomputing.com"
APP_HOST = "app.sigmacomputing.com"
DEFAULT_PORTS = {"https": 443, "http": 80}


def normalize_base_url(host: str) -> str:
    """Turn what a user typed as the API host into ``scheme://host[:port][/prefix]``.

    Accepts ``https://host``, a bare host, with or without a trailing ``/`` or ``/v2``. The scheme
    defaults to https. Credentials, query strings and fragments in the host are refused.

    :param host: the API base URL or bare host name.
    """
    text = (host or "").strip()
    if not text:
        raise SigmaConfigError("The Sigma API host is empty: set the connection host or the extra 'cloud'.")
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SigmaConfigError(f"The Sigma API host must use https:// (got scheme {scheme!r}).")
    if "@" in parts.netloc:
        raise SigmaConfigError(
            "The Sigma API host must not contain a user name or password: put the client id in the "
            "login field and the client secret in the password field."
        )
    if parts.query or parts.fragment:
        raise SigmaConfigError(
            f"The Sigma API host must not contain a query string or fragment: {_safe(parts.hostname)}"
        )
    if not parts.hostname:
        raise SigmaConfigError(f"The Sigma API host {text!r} has no host name.")
    path = parts.path.rstrip("/")
    if path.lower().endswith("/v2"):
        path = path[:-3].rstrip("/")
    default_port = parts.port in (None, DEFAULT_PORTS[scheme])  # https://host:443 is https://host
    netloc = parts.hostname.lower() if default_port else f"{parts.hostname.lower()}:{parts.port}"
    return f"{scheme}://{netloc}{path}"


def check_host_allowed(base_url: str, allow_custom_host: bool) -> None:
    """Refuse to send credentials anywhere but ``https://*.sigmacomputing.com`` unless explicitly allowed.

    :param base_url: a URL returned by :func:`normalize_base_url`.
    :param allow_custom_host: the connection extra ``allow_custom_host`` (a proxy or a local test server).
    """
    parts = urlsplit(base_url)
    hostname = parts.hostname or ""
    if hostname == APP_HOST:
        raise SigmaConfigError(
            f"{base_url} is the Sigma app host, not the API host. Copy the API base URL from "
            "Administration > Developer Access (for example https://aws-api.sigmacomputing.com), "
            f"or set extra 'cloud' to one of: {', '.join(CLOUD_HOSTS)}."
        )
    if allow_custom_host:
        return
    is_sigma = hostname == SIGMA_DOMAIN or hostname.endswith(f".{SIGMA_DOMAIN}")
    if parts.scheme != "https" or not is_sigma:
        raise SigmaConfigError(
            f"Refusing to send Sigma credentials to {base_url}: only https:// hosts under "
            f"{SIGMA_DOMAIN} are allowed. For a proxy or a local test server set the connection "
            'extra {"allow_custom_host": true}.'
        )


def resolve_base_url(
    host: str | None, cloud: str | None, *, known_hosts: Mapping[str, str] | None = None
) -> str:
    """Return the API base URL from the connection host, or from the ``cloud`` key when host is empty.

    ``cloud="auto"`` cannot be resolved without probing: use ``SigmaClient.auto`` for it.

    :param host: the connection host (any form :func:`normalize_base_url` accepts), or empty.
    :param cloud: a key of ``known_hosts`` (default :data:`CLOUD_HOSTS`), ``"auto"``, or empty.
    :param known_hosts: replaces :data:`CLOUD_HOSTS` (tests point keys at local servers).
    """
    hosts = CLOUD_HOSTS if known_hosts is None else known_hosts
    cloud_key = normalize_cloud_key(cloud, known_hosts=hosts)
    if host and host.strip():
        base_url = normalize_base_url(host)
        if cloud_key == AUTO:
            raise SigmaConfigError(
                f"The connection sets both a host ({base_url}) and cloud 'auto': leave the host empty "
                "to detect the region, or remove the extra 'cloud'."
            )
        if cloud_key and normalize_base_url(hosts[cloud_key]) != base_url:
            raise SigmaConfigError(
                f"The connection host {base_url} does not match extra cloud {cloud_key!r} "
                f"({hosts[cloud_key]}): set only one of them."
            )
        return base_url
    if cloud_key is None:
        raise SigmaConfigError(
            "The Sigma connection has neither a host nor an extra 'cloud': set the host to your API "
            "base URL (Administration > Developer Access) or set extra 'cloud' to one of: "
            f"{', '.join(hosts)} (or 'auto')."
        )
    if cloud_key == AUTO:
        raise SigmaConfigError("cloud 'auto' must be resolved by probing (SigmaClient.auto).")
    return normalize_base_url(hosts[cloud_key])


def normalize_cloud_key(cloud: str | None, *, known_hosts: Mapping[str, str] | None = None) -> str | None:
    """Validate a cloud key; return it lower-cased, ``"auto"``, or ``None`` when empty.

    :param cloud: the extra ``cloud`` value.
    :param known_hosts: replaces :data:`CLOUD_HOSTS`.
    """
    hosts = CLOUD_HOSTS if known_hosts is None else known_hosts
    if cloud is None:
        return None
    if not isinstance(cloud, str):
        raise SigmaConfigError(
            f"Extra 'cloud' must be a string, got {type(cloud).__name__}. Valid keys: {', '.join(hosts)}, "
            "or 'auto'."
        )
    key = cloud.strip().lower()
    if not key:
        return None
    if key != AUTO and key not in hosts:
        raise SigmaConfigError(
            f"Unknown Sigma cloud key {cloud.strip()!r}. Valid keys: {', '.join(hosts)}, or 'auto'."
        )
    return key


def cloud_key_for(base_url: str, *, known_hosts: Mapping[str, str] | None = None) -> str | None:
    """Return the cloud key whose host is ``base_url``, if any.

    :param base_url: a normalized API base URL.
    :param known_hosts: replaces :data:`CLOUD_HOSTS`.
    """
    hosts = CLOUD_HOSTS if known_hosts is None else known_hosts
    for key, url in hosts.items():
        if normalize_base_url(url) == base_url:
            return key
    return None


def wrong_host_hint(base_url: str, cloud: str | None, *, known_hosts: Mapping[str, str] | None = None) -> str:
    """Explain that valid credentials fail on another region's host, and list the keys to try.

    :param base_url: the host that was used.
    :param cloud: the cloud key the host came from, if any.
    :param known_hosts: replaces :data:`CLOUD_HOSTS`.
    """
    hosts = CLOUD_HOSTS if known_hosts is None else known_hosts
    key = cloud or cloud_key_for(base_url, known_hosts=hosts)
    used = f"host {base_url}" + (f" (cloud key {key!r})" if key else "")
    others = [k for k in hosts if k != key]
    return (
        f"Used {used}. Credentials only work on the API host of your organisation's cloud and "
        "region (Administration > Developer Access shows it). Other cloud keys to try: "
        f"{', '.join(others)}; or set the extra 'cloud' to 'auto'."
    )


@dataclass(frozen=True)
class HostAdvice:
    """What to suggest when a host refuses the credentials or gives no usable answer.

    Region keys help only on Sigma's own hosts (``*.sigmacomputing.com`` or a host of ``known_hosts``);
    for a custom host (a proxy, a local server) the advice is about that host itself.

    :param base_url: the host that was used.
    :param cloud: the cloud key it came from, if any.
    :param known_hosts: cloud key → host map (default :data:`CLOUD_HOSTS`).
    """

    base_url: str
    cloud: str | None = None
    known_hosts: Mapping[str, str] | None = None

    @property
    def is_sigma_host(self) -> bool:
        """Whether the host is one of Sigma's (where another region's key may be the fix)."""
        hostname = urlsplit(self.base_url).hostname or ""
        if hostname == SIGMA_DOMAIN or hostname.endswith(f".{SIGMA_DOMAIN}"):
            return True
        return cloud_key_for(self.base_url, known_hosts=self.known_hosts) is not None

    def rejected(self) -> str:
        """The host answered but refused the credentials."""
        if self.is_sigma_host:
            return f"Check the client id and secret. {self._regions()}"
        return (
            f"Check the client id and secret: {self.base_url} is a custom host (allow_custom_host), so "
            "they must be ones that server accepts."
        )

    def wrong_api_host(self) -> str:
        """The host answered, but not like Sigma's API."""
        if self.is_sigma_host:
            return self._regions()
        return f"Check that {self.base_url} is a Sigma-compatible API server."

    def unreachable(self, exc: BaseException) -> str:
        """No usable answer came from the host.

        :param exc: the ``requests`` exception of the last attempt.
        """
        if self.is_sigma_host:
            return self._regions()
        netloc = urlsplit(self.base_url).netloc
        if isinstance(exc, requests.exceptions.SSLError):
            return (
                f"The TLS handshake with {netloc} failed: if that server speaks plain HTTP, write the "
                f"host with http:// (http://{netloc}; as a connection URI "
                f"sigma://http://ID:SECRET@{netloc}/?allow_custom_host=true)."
            )
        if isinstance(exc, requests.Timeout):
            return f"Check that {self.base_url} is a Sigma-compatible API server that answers in time."
        return f"Check that a server is running at {self.base_url} and listening on that host and port."

    def _regions(self) -> str:
        return wrong_host_hint(self.base_url, self.cloud, known_hosts=self.known_hosts)


def _safe(hostname: str | None) -> str:
    return hostname or "<no host>"
