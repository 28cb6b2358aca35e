"""The warehouse layer: table definitions, SQL dialects and transactional writes.

Airflow-free except :meth:`Warehouse.from_conn_id`. See :mod:`airflow_sigma.warehouse.tables` for the
public tables, :mod:`airflow_sigma.warehouse.dialects` for what differs between databases, and
:mod:`airflow_sigma.warehouse.session` for :class:`Warehouse` and :class:`Transaction`.
"""

from __future__ import annotations

from airflow_sigma.warehouse.dialects import (
    BigQueryDialect,
    Dialect,
    PostgresDialect,
    SnowflakeDialect,
    SqliteDialect,
    dialect_for,
)
from airflow_sigma.warehouse.session import TempTable, Transaction, Warehouse
from airflow_sigma.warehouse.tables import (
    ALL_TABLES,
    AUDIT_EVENTS,
    DAILY_EVENT_COUNTS,
    DAILY_LOGINS,
    EXPORT_FILES,
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    MEMBER_ACTIVITY,
    MEMBERS,
    USAGE,
    WORKBOOK_ELEMENTS,
    WORKBOOKS,
    Column,
    Table,
)
from airflow_sigma.warehouse.values import (
    BadRowError,
    WarehouseConnectionError,
    WarehouseError,
    WarehouseUnavailableError,
)

__all__ = [
    "ALL_TABLES",
    "AUDIT_EVENTS",
    "DAILY_EVENT_COUNTS",
    "DAILY_LOGINS",
    "EXPORT_FILES",
    "IMPRESSIONS_DAILY",
    "IMPRESSION_EVENTS",
    "MEMBERS",
    "MEMBER_ACTIVITY",
    "USAGE",
    "WORKBOOKS",
    "WORKBOOK_ELEMENTS",
    "BadRowError",
    "BigQueryDialect",
    "Column",
    "Dialect",
    "PostgresDialect",
    "SnowflakeDialect",
    "SqliteDialect",
    "Table",
    "TempTable",
    "Transaction",
    "Warehouse",
    "WarehouseConnectionError",
    "WarehouseError",
    "WarehouseUnavailableError",
    "dialect_for",
]
