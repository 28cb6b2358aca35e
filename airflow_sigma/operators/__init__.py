"""Operators for Sigma Computing."""

from __future__ import annotations

from airflow_sigma.operators.catalog import SigmaDiscoverWorkbooksOperator
from airflow_sigma.operators.exports import SigmaListAuditExportsOperator

__all__ = ["SigmaDiscoverWorkbooksOperator", "SigmaListAuditExportsOperator"]
