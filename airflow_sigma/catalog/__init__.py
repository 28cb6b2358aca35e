"""Workbook discovery (the catalog job), free of Airflow.

:func:`discover_catalog` lists workbooks, pages, elements and members through a
:class:`~airflow_sigma.api.client.SigmaClient` and returns a :class:`Catalog`; :func:`write_catalog`
stores it in a :class:`~airflow_sigma.warehouse.Warehouse` for one snapshot date, in one transaction.
The operator :class:`~airflow_sigma.operators.catalog.SigmaDiscoverWorkbooksOperator` chains the two.
"""

from __future__ import annotations

from airflow_sigma.catalog.discovery import discover_catalog
from airflow_sigma.catalog.model import (
    Catalog,
    CatalogError,
    CatalogIncompleteError,
    CatalogOptions,
    CatalogStats,
    SkippedWorkbook,
)
from airflow_sigma.catalog.rows import (
    MY_DOCUMENTS,
    CatalogDataError,
    ElementRow,
    MemberRow,
    WorkbookRow,
    workspace_of,
)
from airflow_sigma.catalog.store import CATALOG_TABLES, write_catalog

__all__ = [
    "CATALOG_TABLES",
    "MY_DOCUMENTS",
    "Catalog",
    "CatalogDataError",
    "CatalogError",
    "CatalogIncompleteError",
    "CatalogOptions",
    "CatalogStats",
    "ElementRow",
    "MemberRow",
    "SkippedWorkbook",
    "WorkbookRow",
    "discover_catalog",
    "workspace_of",
    "write_catalog",
]
