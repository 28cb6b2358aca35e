"""The warehouse engines by name: which :class:`~airflow_sigma.warehouse.generic.Dialect` serves an
Airflow connection type.

Each engine's SQL and load path lives in its own module (:mod:`~airflow_sigma.warehouse.sqlite`,
:mod:`~airflow_sigma.warehouse.postgres`, :mod:`~airflow_sigma.warehouse.snowflake`,
:mod:`~airflow_sigma.warehouse.bigquery`); any other DB-API connection gets the generic ANSI
:class:`Dialect`.
"""

from __future__ import annotations

from airflow_sigma.warehouse.bigquery import BigQueryDialect
from airflow_sigma.warehouse.generic import RESERVED, Dialect
from airflow_sigma.warehouse.postgres import PostgresDialect
from airflow_sigma.warehouse.snowflake import SnowflakeDialect
from airflow_sigma.warehouse.sqlite import SqliteDialect

_DIALECTS: dict[str, type[Dialect]] = {
    "sqlite": SqliteDialect,
    "postgres": PostgresDialect,
    "postgresql": PostgresDialect,
    "snowflake": SnowflakeDialect,
    "bigquery": BigQueryDialect,
    "gcpbigquery": BigQueryDialect,
    "google_cloud_platform": BigQueryDialect,
}


def dialect_for(name_or_conn_type: str, *, placeholder: str | None = None) -> Dialect:
    """The dialect for a dialect name or Airflow conn type; the generic ANSI dialect for anything else.

    :param name_or_conn_type: e.g. ``sqlite``, ``postgres``/``postgresql``, ``snowflake``,
        ``bigquery``/``gcpbigquery``, or any other conn type (generic).
    :param placeholder: the driver's parameter marker, for the generic dialect (default ``%s``).
    """
    key = name_or_conn_type.strip().lower().split("+")[0]
    dialect_class = _DIALECTS.get(key)
    if dialect_class is SqliteDialect:
        return SqliteDialect()
    if dialect_class is not None:
        return dialect_class()
    return Dialect(placeholder or "%s")


__all__ = [
    "RESERVED",
    "BigQueryDialect",
    "Dialect",
    "PostgresDialect",
    "SnowflakeDialect",
    "SqliteDialect",
    "dialect_for",
]
