"""Sensors for Sigma Computing."""

from __future__ import annotations

from airflow_sigma.sensors.exports import SigmaAuditExportSensor

__all__ = ["SigmaAuditExportSensor"]
