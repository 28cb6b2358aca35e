"""Operators for Sigma Computing."""

from __future__ import annotations

from airflow_sigma.operators.audit import SigmaLoadAuditEventsOperator
from airflow_sigma.operators.catalog import SigmaDiscoverWorkbooksOperator
from airflow_sigma.operators.exports import SigmaListAuditExportsOperator
from airflow_sigma.operators.members import SigmaBuildMemberActivityOperator
from airflow_sigma.operators.usage import SigmaAggregateImpressionsOperator, SigmaBuildUsageSummaryOperator

__all__ = [
    "SigmaAggregateImpressionsOperator",
    "SigmaBuildMemberActivityOperator",
    "SigmaBuildUsageSummaryOperator",
    "SigmaDiscoverWorkbooksOperator",
    "SigmaListAuditExportsOperator",
    "SigmaLoadAuditEventsOperator",
]
