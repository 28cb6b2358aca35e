"""Airflow hooks for Sigma Computing."""

from __future__ import annotations

from airflow_sigma.hooks.sigma import SigmaHook

__all__ = ["SigmaHook"]
