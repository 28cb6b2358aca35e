"""Triggers for Sigma Computing (run in the triggerer)."""

from __future__ import annotations

from airflow_sigma.triggers.exports import SigmaAuditExportTrigger

__all__ = ["SigmaAuditExportTrigger"]
