"""Rows into BigQuery by load job: batches written to a Parquet file, loaded into a staging table.

A load job cannot write a session's temporary table, so the file is loaded into a staging table of the
dataset, created for the run with an expiration (dropped once copied, or by BigQuery a day later if the
task dies first), then copied into the temp table by one ``INSERT .. SELECT`` in the session. One load
job per staged table and run: BigQuery counts load jobs per table and day
(https://cloud.google.com/bigquery/quotas#load_jobs), and DML statements per table
(https://cloud.google.com/bigquery/quotas#data-manipulation-language-statements). Loading Parquet:
https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-parquet (the same job configuration
loads a local file, https://cloud.google.com/bigquery/docs/batch-loading-data#loading_data_from_local_files).

Memory stays bounded: each batch becomes one row group of a file on local disk (``TMPDIR``).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_sigma.warehouse.tables import Column

#: How long a staging table outlives a task that died before dropping it.
STAGING_EXPIRATION = timedelta(days=1)


def arrow_type(column: Column) -> Any:
    """The Arrow type a column is written to Parquet as (JSON as text, loaded into a STRING field)."""
    import pyarrow as pa

    return {
        "text": pa.string(),
        "integer": pa.int64(),
        "float": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "json": pa.string(),
    }[column.type]


def load_schema(columns: Sequence[Column]) -> list[Any]:
    """The load job's (and staging table's) schema: one NULLABLE field per column; JSON as STRING."""
    from google.cloud.bigquery import SchemaField

    from airflow_sigma.warehouse.bigquery.session import BIGQUERY_TYPES

    return [
        SchemaField(c.name, "STRING" if c.type == "json" else BIGQUERY_TYPES[c.type], mode="NULLABLE")
        for c in columns
    ]


class ParquetStage:
    """The batches staged for one temp table: a Parquet file, then one load job.

    :param temp_table: the temp table the rows are for (names the staging table).
    :param columns: its columns, in the order of the arrays written.
    """

    def __init__(self, temp_table: str, columns: tuple[Column, ...]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.temp_table = temp_table
        self.columns = columns
        self.schema = pa.schema([pa.field(c.name, arrow_type(c)) for c in columns])
        handle, self.path = tempfile.mkstemp(prefix="sigma-bigquery-", suffix=".parquet")
        os.close(handle)
        self.writer: Any = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self.open = True
        self.rows = 0

    def write(self, arrays: Sequence[Any]) -> int:
        """Append one batch (Arrow arrays in the order of the columns); returns its number of rows."""
        import pyarrow as pa

        cast = [array.cast(field.type) for array, field in zip(arrays, self.schema, strict=True)]
        self.writer.write_batch(pa.RecordBatch.from_arrays(cast, schema=self.schema))
        self.rows += len(cast[0])
        return len(cast[0])

    def load(self, client: Any, dataset: str, location: str | None) -> Any:
        """Create a staging table in ``dataset`` (expiring) and load the file into it; returns it."""
        from google.cloud.bigquery import LoadJobConfig, SourceFormat, Table, WriteDisposition

        self.close()
        base = self.temp_table.strip("`").replace(".", "_")
        name = f"{dataset}.sigma_load_{base}_{uuid.uuid4().hex[:12]}"
        table = Table(
            name if dataset.count(".") else f"{client.project}.{name}", schema=load_schema(self.columns)
        )
        table.expires = datetime.now(timezone.utc) + STAGING_EXPIRATION
        table.description = "Rows staged by airflow-provider-sigma for one run; dropped after it."
        table = client.create_table(table)
        config = LoadJobConfig(
            source_format=SourceFormat.PARQUET,
            write_disposition=WriteDisposition.WRITE_TRUNCATE,
            schema=load_schema(self.columns),
        )
        try:
            with open(self.path, "rb") as data:
                client.load_table_from_file(
                    data, table.reference, job_config=config, location=location, rewind=True
                ).result()
        except BaseException:
            client.delete_table(table.reference, not_found_ok=True)
            raise
        return table

    def close(self) -> None:
        if self.open:
            self.open = False
            self.writer.close()

    def discard(self) -> None:
        """Close and delete the local file."""
        try:
            self.close()
        finally:
            if os.path.exists(self.path):
                os.unlink(self.path)
