"""BigQuery: all of the engine's SQL and load path.

- :mod:`~airflow_sigma.warehouse.bigquery.dialect`: types, partitioned and clustered tables, SQL.
- :mod:`~airflow_sigma.warehouse.bigquery.session`: each transaction is one BigQuery session holding one
  multi-statement transaction.
- :mod:`~airflow_sigma.warehouse.bigquery.loads`: staged rows as Parquet, loaded by load job.
- :mod:`~airflow_sigma.warehouse.bigquery.access`: missing datasets and permissions, named with the IAM
  role to grant, before any Sigma call.

``google.cloud.bigquery`` (apache-airflow-providers-google) is imported only when used.
"""

from __future__ import annotations

from airflow_sigma.warehouse.bigquery.dialect import BigQueryDialect, cluster_columns, partition_column

__all__ = ["BigQueryDialect", "cluster_columns", "partition_column"]
