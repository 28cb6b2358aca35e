"""The shared loading machinery: which files, staging, merge, sigma_export_files, failures writing nothing.

Real files (local folders, moto S3, the GCS emulator) into real SQLite and PostgreSQL. The impressions
job is the vehicle; tests/usage and tests/test_audit.py cover what each job adds; the helpers are in
tests/fixtures/exports.py.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from airflow_sigma.events import EventFileError, TooManyBadRowsError
from airflow_sigma.loading import (
    check_file_source,
    list_run_files,
    normalise_files,
    rank_files,
)
from airflow_sigma.storage import (
    ExportConfigError,
    ExportFile,
    ExportStorageError,
)
from airflow_sigma.warehouse import (
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    PostgresDialect,
    SqliteDialect,
    Warehouse,
)
from tests.fixtures.cloud import GcsServer, S3Server
from tests.fixtures.exports import (
    HEADER,
    IMPRESSION_TABLES,
    at,
    export_rows,
    load_impressions,
    make_warehouse,
    tables,
    write_export,
)

# -- which files ---------------------------------------------------------------------------------------------


def test_normalise_files_accepts_the_listing_xcom_its_text_and_plain_uris() -> None:
    row = {"uri": "s3://bucket/a.csv", "size": 10, "last_modified": "2024-05-01T06:00:00Z", "version": "e1"}
    expected = [
        ExportFile(uri="s3://bucket/a.csv", size=10, last_modified="2024-05-01T06:00:00+00:00", version="e1")
    ]
    assert normalise_files([row]) == expected
    assert normalise_files(json.dumps([row])) == expected
    assert normalise_files(repr([row])) == expected  # a template rendered without native objects
    assert normalise_files("gs://bucket/b.csv.gz") == [
        ExportFile(uri="gs://bucket/b.csv.gz", size=-1, last_modified="", version="")
    ]
    assert normalise_files([]) == normalise_files("") == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"uri": "s3://bucket/a.csv"}, "must be a list"),
        ([{"size": 3}], r"files\[0\] must be an export file row with a 'uri'"),
        (["ftp://host/a.csv"], "Unsupported export file URI"),
        ([{"uri": "s3://bucket/a.csv", "last_modified": "yesterday"}], r"files\[0\].last_modified"),
        ("[not, json", "cannot be parsed"),
        (42, "must be a list"),
    ],
)
def test_normalise_files_refuses_malformed_input(files: object, message: str) -> None:
    with pytest.raises(ExportConfigError, match=message):
        normalise_files(files)


def test_rank_files_orders_by_last_modified_then_uri_and_keeps_a_uri_once() -> None:
    def row(uri: str, modified: str, version: str = "v") -> ExportFile:
        return ExportFile(uri=uri, size=1, last_modified=modified, version=version)

    files = [
        row("s3://b/c.csv", "2024-05-02T00:00:00+00:00"),
        row("s3://b/b.csv", "2024-05-01T00:00:00+00:00"),
        row("s3://b/a.csv", "2024-05-02T00:00:00+00:00"),
        row("s3://b/b.csv", "2024-05-03T00:00:00+00:00", "newer"),
        row("s3://b/z.csv", ""),
    ]
    ranked = rank_files(files)
    assert [(f["uri"][-5:], f["version"]) for f in ranked] == [
        ("z.csv", "v"), ("a.csv", "v"), ("c.csv", "v"), ("b.csv", "newer"),
    ]  # fmt: skip


def test_exactly_one_file_source() -> None:
    with pytest.raises(ExportConfigError, match="Give either files"):
        check_file_source(None, None)
    with pytest.raises(ExportConfigError, match="not both"):
        check_file_source([], "s3://bucket/prefix")
    check_file_source([], None)
    check_file_source(None, "s3://bucket/prefix")


def test_list_run_files_uses_the_window_of_the_data_interval(tmp_path: Path) -> None:
    write_export(tmp_path, "old.csv", [], modified=at("2024-04-28T23:59"))
    write_export(tmp_path, "edge.csv", [], modified=at("2024-04-29T00:00"))
    write_export(tmp_path, "in.csv", [], modified=at("2024-05-01T12:00"))
    write_export(tmp_path, "late.csv", [], modified=at("2024-05-02T00:00:01"))
    files = list_run_files(
        f"file://{tmp_path}",
        days_back=2,
        data_interval_start=at("2024-05-01T00:00"),
        data_interval_end=at("2024-05-02T00:00"),
        aws_conn_id=None,
        gcp_conn_id=None,
    )
    assert [f["uri"].rsplit("/", 1)[1] for f in files] == ["edge.csv", "in.csv"]


# -- loading -------------------------------------------------------------------------------------------------


def test_export_files_accounts_for_every_row(warehouse: Warehouse, tmp_path: Path) -> None:
    first = write_export(
        tmp_path,
        "a.csv",
        ["2024-05-01T10:00:00Z,ann@x.com,wbA,,", "2024-05-01T11:00:00Z,bob@x.com,wbA,el1,2"],
        modified=at("2024-05-01T12:00"),
    )
    second = write_export(
        tmp_path,
        "b.csv",
        [
            "2024-05-01T11:00:00Z,bob@x.com,wbA,el1,2",  # also in a.csv
            "2024-05-01T12:00:00Z,ann@x.com,wbB,,",
            "2024-05-01T12:00:00Z,ann@x.com,wbB,,",  # twice in this file: one event
            "not a time,ann@x.com,wbB,,",
            "2024-05-01T13:00:00Z,,wbB,,",
        ],
        modified=at("2024-05-02T01:00"),
    )
    result = load_impressions(warehouse, [second, first], date(2024, 5, 1), max_bad_row_fraction=0.5)
    files = export_rows(warehouse)
    assert files["a.csv"] | {"processed_at": None} == {
        "job": "impressions", "uri": first["uri"], "etag": first["version"], "size": first["size"],
        "last_modified": at("2024-05-01T12:00"), "rows_read": 2, "rows_accepted": 2, "rows_filtered": 0,
        "bad_rows": 0, "bad_row_kinds": {}, "duplicate_events": 1, "processed_at": None, "status": "loaded",
    }  # fmt: skip
    b = files["b.csv"]
    assert (b["rows_read"], b["rows_accepted"], b["duplicate_events"]) == (5, 3, 1)
    assert (b["bad_rows"], b["bad_row_kinds"]) == (2, {"bad_timestamp": 1, "missing_value": 1})
    assert b["processed_at"] == files["a.csv"]["processed_at"] == at("2024-05-02T00:00")
    assert result.events == 3 == len(warehouse.read_table(IMPRESSION_EVENTS))
    assert result.summary()["duplicate_events"] == 2
    assert result.summary()["bad_rows"] == 2
    assert result.summary()["bad_row_kinds"] == {"bad_timestamp": 1, "missing_value": 1}
    # The bad-row fraction is over the whole run: 2 of 7 rows.
    assert result.bad_fraction == pytest.approx(2 / 7)


def test_processed_at_keeps_the_earliest_run_whatever_the_order(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(
        tmp_path, "a.csv", ["2024-05-01T10:00:00Z,ann@x.com,wbA,,"], modified=at("2024-05-01T12:00")
    )
    load_impressions(warehouse, [export], date(2024, 5, 2))
    load_impressions(warehouse, [export], date(2024, 5, 1))
    load_impressions(warehouse, [export], date(2024, 5, 3))
    assert export_rows(warehouse)["a.csv"]["processed_at"] == at("2024-05-02T00:00")


def test_duplicate_events_do_not_depend_on_the_order_of_runs(
    request: pytest.FixtureRequest, warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [f"2024-05-01T{hour:02d}:00:00Z,ann@x.com,wbA,,1" for hour in range(6)]
    older = write_export(tmp_path, "a.csv", rows[:4], modified=at("2024-05-01T12:00"))
    newer = write_export(tmp_path, "b.csv", rows[2:], modified=at("2024-05-02T12:00"))
    backend = "sqlite" if warehouse.dialect.name == "sqlite" else "postgres"
    reversed_ = make_warehouse(request, tmp_path / "reversed", backend, table_prefix="rev_")
    (tmp_path / "reversed").mkdir()
    load_impressions(warehouse, [older], date(2024, 5, 1))
    load_impressions(warehouse, [newer], date(2024, 5, 2))
    load_impressions(reversed_, [newer], date(2024, 5, 2))
    load_impressions(reversed_, [older], date(2024, 5, 1))
    counts = {name: row["duplicate_events"] for name, row in export_rows(warehouse).items()}
    assert counts == {"a.csv": 2, "b.csv": 0}  # the two shared events are stored from the newer file
    assert tables(reversed_) == tables(warehouse)
    load_impressions(warehouse, [older, newer], date(2024, 5, 2))  # a re-run changes nothing
    assert tables(reversed_) == tables(warehouse)


def test_overlapping_runs_on_postgres_take_turns(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    warehouse = make_warehouse(request, tmp_path, "postgres")
    fifo = tmp_path / "older.csv"
    os.mkfifo(fifo)  # the first run waits, inside its transaction, until this file is written
    older = ExportFile(uri=f"file://{fifo}", size=-1, last_modified="2024-05-01T12:00:00+00:00", version="v1")
    newer = write_export(
        tmp_path / "b",
        "newer.csv",
        ["2024-05-01T10:00:00Z,ann@x.com,wbA,,5"],
        modified=at("2024-05-01T13:00"),
    )
    errors: list[BaseException] = []

    def run(files: list[ExportFile], day: date) -> None:
        try:
            load_impressions(warehouse, files, day)
        except BaseException as error:
            errors.append(error)

    def feed() -> None:
        time.sleep(1.0)
        fifo.write_text(f"{HEADER}\n2024-05-01T10:00:00Z,ann@x.com,wbA,,1\n")

    runs = [threading.Thread(target=run, args=([older], date(2024, 5, 1))), threading.Thread(target=feed)]
    runs[0].start()
    time.sleep(0.3)
    runs.append(threading.Thread(target=run, args=([newer], date(2024, 5, 2))))
    for thread in runs[1:]:
        thread.start()
    for thread in runs:
        thread.join(60)
    assert errors == []
    assert tables(warehouse)["impressions_daily"] == [(date(2024, 5, 1), "wbA", "", "ann@x.com", 5)]


def test_too_many_bad_rows_fail_the_run_and_write_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    good = write_export(
        tmp_path / "1", "good.csv", ["2024-05-01T10:00:00Z,ann@x.com,wbA,,"], modified=at("2024-05-01T12:00")
    )
    load_impressions(warehouse, [good], date(2024, 5, 1))
    before = tables(warehouse)
    rows = [f"2024-05-02T10:{m // 60:02d}:{m % 60:02d}Z,ann@x.com,wbA,,2" for m in range(98)] + [
        "2024-05-02T11:00:00Z,ann@x.com,wbA,,0",
        "2024-05-02T11:00:00Z,ann@x.com,wbA,,-1",
    ]
    bad = write_export(tmp_path / "2", "bad.csv", rows, modified=at("2024-05-02T12:00"))
    # files are read newest first: reading stops at good.csv, which cannot bring the share down; the
    # message names the file whose rows were bad
    with pytest.raises(TooManyBadRowsError, match=r"2 of the 100 rows read.*bad.csv: 100 rows read.*written"):
        load_impressions(warehouse, [good, bad], date(2024, 5, 2))
    assert tables(warehouse) == before
    load_impressions(warehouse, [good, bad], date(2024, 5, 2), max_bad_row_fraction=0.02)
    assert len(warehouse.read_table(IMPRESSION_EVENTS)) == 99


def test_a_file_without_a_required_column_fails_naming_file_column_and_headers(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    good = write_export(
        tmp_path, "a.csv", ["2024-05-01T10:00:00Z,ann@x.com,wbA,,"], modified=at("2024-05-01T12:00")
    )
    broken = write_export(
        tmp_path, "b.csv", ["2024-05-01T10:00:00Z,ann@x.com,,"], header="Request Time,Email,Element ID,Count",
        modified=at("2024-05-01T13:00"),
    )  # fmt: skip
    with pytest.raises(EventFileError) as error:
        load_impressions(warehouse, [good, broken], date(2024, 5, 1))
    message = str(error.value)
    assert broken["uri"] in message and "'workbook_url_id' not found" in message
    assert "'Request Time,Email,Element ID,Count'" in message
    assert tables(warehouse) == {t.base_name: [] for t in IMPRESSION_TABLES}


def test_a_file_that_cannot_be_opened_fails_the_run(warehouse: Warehouse, tmp_path: Path) -> None:
    good = write_export(
        tmp_path, "a.csv", ["2024-05-01T10:00:00Z,ann@x.com,wbA,,"], modified=at("2024-05-01T12:00")
    )
    gone = ExportFile(
        uri=f"file://{tmp_path}/gone.csv", size=1, last_modified="2024-05-01T13:00:00+00:00", version=""
    )
    with pytest.raises(ExportStorageError, match=r"gone\.csv"):
        load_impressions(warehouse, [good, gone], date(2024, 5, 1))
    assert tables(warehouse) == {t.base_name: [] for t in IMPRESSION_TABLES}


def test_gzip_and_empty_files(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,el1,3", "2024-05-01T10:00:01Z,bob@x.com,wbA,,"]
    packed = write_export(tmp_path, "a.csv.gz", rows, modified=at("2024-05-01T12:00"), gz=True)
    empty = write_export(tmp_path, "empty.csv", b"", modified=at("2024-05-01T13:00"))
    header_only = write_export(tmp_path, "header.csv", [], modified=at("2024-05-01T14:00"))
    result = load_impressions(warehouse, [packed, empty, header_only], date(2024, 5, 1))
    assert result.events == 2
    files = export_rows(warehouse)
    assert files["empty.csv"]["status"] == "empty" and files["header.csv"]["status"] == "loaded"
    assert files["a.csv.gz"]["size"] == packed["size"] and files["a.csv.gz"]["rows_accepted"] == 2
    assert sorted(row[4] for row in warehouse.read_table(IMPRESSIONS_DAILY)) == [1, 3]


def test_no_files_changes_nothing_but_creates_the_tables(warehouse: Warehouse) -> None:
    result = load_impressions(warehouse, [], date(2024, 5, 1))
    assert result.summary()["files"] == 0 and result.events == 0
    assert tables(warehouse) == {t.base_name: [] for t in IMPRESSION_TABLES}


def test_schema_and_table_prefix_on_postgres(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    warehouse = make_warehouse(request, tmp_path, "postgres", schema="analytics", table_prefix="acme_")
    export = write_export(
        tmp_path, "a.csv", ["2024-05-01T10:00:00Z,ann@x.com,wbA,el1,2"], modified=at("2024-05-01T12:00")
    )
    load_impressions(warehouse, [export], date(2024, 5, 1))
    load_impressions(warehouse, [export], date(2024, 5, 1))
    with warehouse.transaction() as tx:
        assert tx.query("SELECT SUM(impressions) FROM analytics.acme_impressions_daily") == [(2,)]
        indexes = tx.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'analytics'")
    assert ("acme_impression_events_day_idx",) in indexes


def test_s3_exports(
    aws_connection: S3Server, s3_bucket: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    warehouse = make_warehouse(request, tmp_path, "sqlite")
    body = f"{HEADER}\n2024-05-01T10:00:00Z,ann@x.com,wbA,,\n2024-05-01T10:05:00Z,bob@x.com,wbA,el1,4\n"
    aws_connection.put(s3_bucket, "sigma/2024-05-01-a.csv", body, last_modified=at("2024-05-01T12:00"))
    aws_connection.put(
        s3_bucket,
        "sigma/2024-05-02-b.csv.gz",
        gzip.compress(body.encode()),
        last_modified=at("2024-05-01T13:00"),
    )
    files = list_run_files(
        f"s3://{s3_bucket}/sigma",
        days_back=1,
        data_interval_start=at("2024-05-01T00:00"),
        data_interval_end=at("2024-05-02T00:00"),
        aws_conn_id="aws_default",
        gcp_conn_id=None,
    )
    result = load_impressions(warehouse, files, date(2024, 5, 1))
    assert (result.events, result.summary()["duplicate_events"]) == (2, 2)
    assert sorted(row[4] for row in warehouse.read_table(IMPRESSIONS_DAILY)) == [1, 4]
    etags = {row["etag"] for row in export_rows(warehouse).values()}
    assert etags == {f["version"] for f in files} and "" not in etags


def test_gcs_exports(
    gcs_connection: GcsServer, gcs_bucket: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    warehouse = make_warehouse(request, tmp_path, "postgres")
    old = f"{HEADER}\n2024-05-01T10:00:00Z,ann@x.com,wbA,,1\n"
    new = f"{HEADER}\n2024-05-01T10:00:00Z,ann@x.com,wbA,,5\n"
    gcs_connection.put(gcs_bucket, "exports/a.csv", old, last_modified=at("2024-05-01T12:00"))
    gcs_connection.put(gcs_bucket, "exports/b.csv", new, last_modified=at("2024-05-01T13:00"))
    files = list_run_files(
        f"gs://{gcs_bucket}/exports",
        days_back=1,
        data_interval_start=at("2024-05-01T00:00"),
        data_interval_end=at("2024-05-02T00:00"),
        aws_conn_id=None,
        gcp_conn_id="google_cloud_default",
    )
    load_impressions(warehouse, files, date(2024, 5, 1))
    [event] = warehouse.read_table(IMPRESSION_EVENTS)
    assert event[6] == 5 and event[7] == f"gs://{gcs_bucket}/exports/b.csv"
    assert {row["etag"] for row in export_rows(warehouse).values()} == {f["version"] for f in files}


# -- the SQL that differs between databases ------------------------------------------------------------------


def test_dialect_specific_sql() -> None:
    from airflow_sigma.loading.sql import loose_text, loose_value
    from airflow_sigma.warehouse import BigQueryDialect, Dialect, SnowflakeDialect

    sqlite, postgres, snowflake, bigquery = (
        SqliteDialect(),
        PostgresDialect(),
        SnowflakeDialect(),
        BigQueryDialect(),
    )
    assert sqlite.from_text("x", "timestamp") == "x"
    assert postgres.from_text("x", "timestamp") == "CAST(x AS TIMESTAMPTZ)"
    assert snowflake.from_text("x", "json") == "PARSE_JSON(x)"
    assert bigquery.from_text("x", "date") == "CAST(x AS DATE)"
    assert Dialect().from_text("x", "text") == "x"
    assert sqlite.days_between("a", "b") == "CAST(julianday(a) - julianday(b) AS INTEGER)"
    assert snowflake.days_between("a", "b") == "DATEDIFF(day, b, a)"
    assert bigquery.days_between("a", "b") == "DATE_DIFF(a, b, DAY)"
    assert postgres.days_between("a", "b") == "(a - b)"
    assert bigquery.start_of_day("d") == "TIMESTAMP(d)"
    assert sqlite.start_of_day("d") == "(d || 'T00:00:00.000000Z')"
    assert loose_value(" Log_In ") == "login"
    with sqlite3.connect(":memory:") as connection:
        assert connection.execute(f"SELECT {loose_text(repr(' Log_In-x '))}").fetchone() == ("loginx",)


def test_the_generic_dialect_runs_the_whole_pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import psycopg

    from airflow_sigma.usage import build_usage_summary
    from airflow_sigma.warehouse import USAGE, Dialect

    dsn = request.getfixturevalue("postgres_database")
    warehouse = Warehouse(lambda: psycopg.connect(dsn, options="-c TimeZone=UTC"), Dialect("%s"))
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,el1,2", "2024-05-01T11:00:00Z,bob@x.com,wbA,,"]
    a = write_export(tmp_path, "a.csv", rows, modified=at("2024-05-01T12:00"))
    b = write_export(tmp_path, "b.csv", rows[:1], modified=at("2024-05-01T13:00"))
    load_impressions(warehouse, [a, b], date(2024, 5, 1))
    load_impressions(warehouse, [b, a], date(2024, 5, 1))
    assert sorted(row[4] for row in warehouse.read_table(IMPRESSIONS_DAILY)) == [1, 2]
    assert export_rows(warehouse)["a.csv"]["duplicate_events"] == 1
    build_usage_summary(warehouse, date(2024, 5, 3))
    workbook = next(row for row in warehouse.read_table(USAGE) if row[1] == "workbook")
    assert (workbook[9], workbook[13], workbook[16], workbook[17]) == (1, 2, at("2024-05-01T00:00"), 2)
