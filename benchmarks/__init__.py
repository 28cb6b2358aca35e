"""Benchmarks of airflow-provider-sigma (``make bench``, ``python -m benchmarks --help``).

Each benchmark measures the provider side by side with a baseline or a reference in the same run,
since the machines are shared and noisy, and reports medians of several runs against fixed targets:

- :mod:`benchmarks.discovery`: catalog discovery, ``max_concurrency=8`` vs ``1``;
- :mod:`benchmarks.impressions`: impressions into SQLite vs a plain pyarrow + sqlite3 baseline;
- :mod:`benchmarks.postgres`: the same load into PostgreSQL, rows per second;
- :mod:`benchmarks.parsing`: import time of each sample DAG file over ``import airflow.sdk``.
"""
