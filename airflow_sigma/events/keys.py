"""Event keys (one per event, equal for the same event in overlapping exports) and email hashing.

Impression keys (no event id): ``"<request_time as UTC epoch microseconds>|<user_email>|<workbook_url_id>|
<element_id>"``, with ``%`` and ``|`` inside values written ``%25`` and ``%7C``. Readable, injective and
built without a per-row Python loop. With ``email_salt`` the email part is already the hash.

Audit keys (no event id): ``"<request_time as UTC epoch microseconds>;<hash>"``, where the hash is the
first 32 hex digits of SHA-256 over ``"v1;" + <the same microseconds> + ";"`` followed, for every
non-empty value of the row in order of name, by ``"<name>=" + <the value as a JSON string literal>``
(self-delimiting, so distinct rows never give the same text). Names are the logical names for the base
columns and the normalised header (letters and digits, lower case) for the others, so the key does not
change when columns are reordered or renamed between the friendly and the id spelling, nor when an
export adds a column that is empty for the event. Every value counts, because events of one request at
the same instant often differ only in an extra column (the element, the query): leaving those out would
merge distinct events. ``key_columns`` narrows the key to chosen columns when an export carries values
that change between exports (a joined name). The time in front keeps each day's keys together in a key
index, as impression keys are: a daily run then inserts and looks up keys in the few pages of recent
days, not all over an index kept for years. Keys stored before the time was put in front are the bare
hash; the audit job rewrites those it meets again (:func:`~airflow_sigma.audit.key_events_by_time`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

AUDIT_HASH_VERSION = "v1"
_AUDIT_KEY_HEX_DIGITS = 32  # airflow_sigma.audit._HASH_DIGITS


def hash_email(email: str, salt: str) -> str:
    """Pseudonymise an email: hex SHA-256 of ``salt + email.strip().lower()`` (``""`` stays ``""``).

    Reproducible in SQL as ``SHA2(salt || LOWER(TRIM(email)))``.
    """
    normalised = email.strip().lower()
    return hashlib.sha256((salt + normalised).encode("utf-8")).hexdigest() if normalised else ""


def hash_emails(emails: pa.Array | pa.ChunkedArray, salt: str) -> pa.Array:
    """:func:`hash_email` over an Arrow string array, hashing each distinct email once (nulls stay null)."""
    if isinstance(emails, pa.ChunkedArray):
        emails = emails.combine_chunks()
    encoded = pc.dictionary_encode(emails)
    hashed = pa.array([hash_email(e, salt) for e in encoded.dictionary.to_pylist()], pa.string())
    return hashed.take(encoded.indices)


def _escape_key_part(values: pa.Array) -> pa.Array:
    return pc.replace_substring(pc.replace_substring(values, "%", "%25"), "|", "%7C")


def impression_keys(
    request_time: pa.Array,
    user_email: pa.Array,
    workbook_url_id: pa.Array,
    element_id: pa.Array,
    *,
    may_need_escaping: bool = True,
) -> pa.Array:
    """Keys of impressions without an event id (see the module docs).

    :param may_need_escaping: ``False`` when no value can contain ``%`` or ``|`` (the caller checked
        the raw bytes), which skips the escaping: the keys are the same either way.
    """
    micros = request_time.cast(pa.int64()).cast(pa.string())
    parts = [user_email, workbook_url_id, element_id]
    if may_need_escaping:
        parts = [_escape_key_part(v) for v in parts]
    return pc.binary_join_element_wise(micros, *parts, "|")


def audit_keys(request_time: pa.Array, named_literals: Sequence[tuple[str, pa.Array]]) -> pa.Array:
    """Keys of audit events without an event id (see the module docs).

    :param request_time: the parsed timestamps.
    :param named_literals: ``(name, JSON literals)`` for every column that identifies the event, as made
        by :func:`~airflow_sigma.events.values.json_literals` (``null`` for an empty value).
    """
    micros = request_time.cast(pa.int64()).cast(pa.string())
    pieces: list[pa.Array | str] = [f"{AUDIT_HASH_VERSION};", micros, ";"]
    for name, literals in sorted(named_literals, key=lambda item: item[0]):
        empty = pc.equal(literals, "null")  # an empty value: left out of the key
        pieces.append(pc.if_else(empty, "", f"{name}="))
        pieces.append(pc.if_else(empty, "", literals))
    material = pc.binary_join_element_wise(*pieces, "").cast(pa.binary())
    sha256 = hashlib.sha256
    digests = [sha256(m).hexdigest()[:_AUDIT_KEY_HEX_DIGITS] for m in material.to_pylist()]
    return pc.binary_join_element_wise(micros, pa.array(digests, pa.string()), ";")
