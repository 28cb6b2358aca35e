"""Warehouse behaviour on real SQLite and PostgreSQL databases (each test gets a fresh one)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_sigma.warehouse import (
    ALL_TABLES,
    AUDIT_EVENTS,
    EXPORT_FILES,
    IMPRESSION_EVENTS,
    WORKBOOK_ELEMENTS,
    WORKBOOKS,
    BadRowError,
    Column,
    PostgresDialect,
    Table,
    Warehouse,
    WarehouseError,
)

UTC = timezone.utc
DAY1 = date(2024, 5, 1)
DAY2 = date(2024, 5, 2)


def workbook_rows(day: date, count: int, name_suffix: str = "") -> list[tuple[Any, ...]]:
    created = datetime(2024, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)
    return [
        (
            day,
            f"wb-{i}",
            f"url{i}",
            f"Workbook {i}{name_suffix}",
            "Shared/Finance",
            "Shared",
            i % 2 == 0,
            f"https://app.sigmacomputing.com/org/workbook/url{i}",
            "member-1",
            None if i == 0 else "owner@example.com",
            created,
            created + timedelta(days=i),
            i,
            False,
            "member-1",
            None,
        )
        for i in range(count)
    ]


def element_rows(day: date, count: int) -> list[tuple[Any, ...]]:
    return [
        (day, "wb-0", "url0", "page-1", "Page 1", f"el-{i}", f"El {i}", "table", None, i)
        for i in range(count)
    ]


def snapshot(warehouse: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    return {t.base_name: warehouse.read_table(t) for t in (WORKBOOKS, WORKBOOK_ELEMENTS)}


def test_creates_all_tables_and_is_idempotent(warehouse: Warehouse) -> None:
    warehouse.ensure_tables(*ALL_TABLES)
    warehouse.ensure_tables(*ALL_TABLES)  # second time: nothing to do, no error
    with warehouse.transaction() as tx:
        for table in ALL_TABLES:
            assert tx.count(table) == 0
            names = warehouse.dialect.existing_columns(tx.cursor, None, f"sigma_{table.base_name}")
            assert names == list(table.column_names)


def test_primary_key_is_enforced(warehouse: Warehouse) -> None:
    warehouse.ensure_tables(WORKBOOKS)
    if warehouse.dialect.name == "bigquery":
        # BigQuery records primary keys NOT ENFORCED (its stand-in drops them): duplicates are stored.
        # Our writes never rely on the key: upserts refuse or dedupe staged duplicates (tested below).
        with warehouse.transaction() as tx:
            tx.insert_rows(WORKBOOKS, workbook_rows(DAY1, 2) + workbook_rows(DAY1, 1))
        assert len(warehouse.read_table(WORKBOOKS)) == 3
        return
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), warehouse.transaction() as tx:
        tx.insert_rows(WORKBOOKS, workbook_rows(DAY1, 2) + workbook_rows(DAY1, 1))
    assert warehouse.read_table(WORKBOOKS) == []


def test_values_round_trip_to_canonical_python(warehouse: Warehouse) -> None:
    rows = workbook_rows(DAY1, 3)
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS, EXPORT_FILES)
        assert tx.insert_rows(WORKBOOKS, iter(rows)) == 3
        tx.insert_rows(
            EXPORT_FILES,
            [
                (
                    "audit",
                    "s3://b/a.csv",
                    "etag1",
                    10,
                    "2024-05-01T00:00:00Z",
                    5,
                    3,
                    1,
                    2,
                    {"x": [1, "é"]},
                    0,
                    None,
                    "loaded",
                )
            ],
        )
    assert warehouse.read_table(WORKBOOKS) == rows
    (export,) = warehouse.read_table(EXPORT_FILES)
    assert export[4] == datetime(2024, 5, 1, tzinfo=UTC)
    assert (export[8], export[9]) == (2, {"x": [1, "é"]})


def test_replace_partition_replaces_only_its_own_partition(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS)
        tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, workbook_rows(DAY1, 3))
        tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY2}, workbook_rows(DAY2, 4))
    with warehouse.transaction() as tx:
        assert tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY2}, workbook_rows(DAY2, 2, " v2")) == 2
    assert warehouse.read_table(WORKBOOKS, {"snapshot_date": DAY1}) == workbook_rows(DAY1, 3)
    assert warehouse.read_table(WORKBOOKS, {"snapshot_date": DAY2}) == workbook_rows(DAY2, 2, " v2")


def test_failed_run_leaves_every_table_untouched(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS, WORKBOOK_ELEMENTS)
        tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, workbook_rows(DAY1, 3))
        tx.replace_partition(WORKBOOK_ELEMENTS, {"snapshot_date": DAY1}, element_rows(DAY1, 5))
    before = snapshot(warehouse)

    def failing_elements() -> Iterator[tuple[Any, ...]]:
        yield from element_rows(DAY1, 2)
        raise RuntimeError("API failed halfway")

    with pytest.raises(RuntimeError, match="halfway"), warehouse.transaction() as tx:
        tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, workbook_rows(DAY1, 1, " new"))
        tx.replace_partition(WORKBOOK_ELEMENTS, {"snapshot_date": DAY1}, failing_elements())
    assert snapshot(warehouse) == before


def test_failed_first_run_leaves_no_tables(warehouse: Warehouse) -> None:
    """DDL is inside the transaction too (SQLite included)."""
    with pytest.raises(BadRowError), warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS, WORKBOOK_ELEMENTS)
        tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, workbook_rows(DAY1, 2))
        tx.replace_partition(WORKBOOK_ELEMENTS, {"snapshot_date": DAY1}, [("bad row",)])
    with warehouse.transaction() as tx:
        for table in (WORKBOOKS, WORKBOOK_ELEMENTS):
            existing = warehouse.dialect.existing_columns(tx.cursor, None, f"sigma_{table.base_name}")
            if warehouse.dialect.ddl_commits:
                # Snowflake commits every DDL statement on its own, so the tables are created before the
                # transaction begins (at the first write); the failed run leaves them empty.
                assert existing == list(table.column_names)
                assert tx.count(table) == 0
            else:
                assert existing is None


def test_rerun_gives_identical_tables(warehouse: Warehouse) -> None:
    def run() -> dict[str, list[tuple[Any, ...]]]:
        with warehouse.transaction() as tx:
            tx.ensure_tables(WORKBOOKS, WORKBOOK_ELEMENTS)
            tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, workbook_rows(DAY1, 4))
            tx.replace_partition(WORKBOOK_ELEMENTS, {"snapshot_date": DAY1}, element_rows(DAY1, 6))
        return snapshot(warehouse)

    first = run()
    assert run() == first
    assert len(first["workbooks"]) == 4 and len(first["workbook_elements"]) == 6


def test_rows_outside_the_partition_are_refused(warehouse: Warehouse) -> None:
    warehouse.ensure_tables(WORKBOOKS)
    rows = workbook_rows(DAY1, 1) + workbook_rows(DAY2, 1)
    outside = r"row 2 has snapshot_date=.*outside the partition"
    with pytest.raises(BadRowError, match=outside), warehouse.transaction() as tx:
        tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, rows)
    assert warehouse.read_table(WORKBOOKS) == []


def test_replace_partition_with_several_values(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS)
        tx.insert_rows(WORKBOOKS, workbook_rows(DAY1, 2) + workbook_rows(DAY2, 2))
        tx.replace_partition(WORKBOOKS, {"snapshot_date": [DAY1, DAY2]}, workbook_rows(DAY2, 1))
    assert warehouse.read_table(WORKBOOKS) == workbook_rows(DAY2, 1)


@pytest.mark.parametrize(
    ("row_change", "message"),
    [
        ({1: 42}, r"row 2, column 'workbook_id': expected a str, got 42 \(int\)"),
        ({6: "yes"}, r"row 2, column 'is_personal': expected a bool"),
        ({12: "7"}, r"row 2, column 'latest_version': expected an int"),
        ({0: "2024-13-01"}, r"row 2, column 'snapshot_date': expected a date"),
        ({10: "yesterday"}, r"row 2, column 'created_at': expected an ISO 8601 timestamp"),
    ],
)
def test_bad_values_name_table_row_and_column(
    warehouse: Warehouse, row_change: dict[int, Any], message: str
) -> None:
    rows = workbook_rows(DAY1, 2)
    bad = list(rows[1])
    for index, value in row_change.items():
        bad[index] = value
    warehouse.ensure_tables(WORKBOOKS)
    with pytest.raises(BadRowError, match=message) as error, warehouse.transaction() as tx:
        tx.insert_rows(WORKBOOKS, [rows[0], tuple(bad)])
    assert "sigma_workbooks" in str(error.value)
    assert warehouse.read_table(WORKBOOKS) == []


def test_wrong_row_length_is_refused(warehouse: Warehouse) -> None:
    warehouse.ensure_tables(WORKBOOKS)
    expected = rf"row 1 has 2 values, expected {len(WORKBOOKS.columns)}"
    with pytest.raises(BadRowError, match=expected), warehouse.transaction() as tx:
        tx.insert_rows(WORKBOOKS, [("a", "b")])


def test_text_values_survive_exactly(warehouse: Warehouse) -> None:
    texts = ["", "tab\there", "new\nline\r\n", "back\\slash \\N", "quote ' \" ;", "ünïcødé ✓ 𝄞", "x" * 4_000]
    rows = [
        (f"k{i}", datetime(2024, 5, 1, tzinfo=UTC), DAY1, text, "wb", "", 1, "s3://b/f")
        for i, text in enumerate(texts)
    ]
    rows.append(("k-null", datetime(2024, 5, 1, tzinfo=UTC), DAY1, "u", "wb", "el", 2**62, "s3://b/f"))
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        tx.insert_rows(IMPRESSION_EVENTS, rows)
    assert warehouse.read_table(IMPRESSION_EVENTS) == sorted(rows)


def test_nulls_and_empty_strings_stay_distinct(warehouse: Warehouse) -> None:
    rows: list[tuple[Any, ...]] = [
        (
            "a",
            datetime(2024, 5, 1, tzinfo=UTC),
            DAY1,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "s3://x",
        )
    ]
    rows.append(("b", datetime(2024, 5, 1, tzinfo=UTC), DAY1, "", "", "", "", "", "", "", [], "s3://x"))
    with warehouse.transaction() as tx:
        tx.ensure_tables(AUDIT_EVENTS)
        tx.insert_rows(AUDIT_EVENTS, rows)
    assert warehouse.read_table(AUDIT_EVENTS) == rows


def test_insert_subset_of_columns(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS)
        tx.insert_rows(
            WORKBOOKS, [("wb-9", DAY1, "Only name")], columns=["workbook_id", "snapshot_date", "name"]
        )
    (row,) = warehouse.read_table(WORKBOOKS)
    assert row[:4] == (DAY1, "wb-9", None, "Only name") and set(row[4:]) == {None}


EVENT_STAGING = (
    Column("event_key", "text", "key"),
    Column("request_time", "timestamp", "time"),
    Column("day", "date", "day"),
    Column("user_email", "text", "user"),
    Column("workbook_url_id", "text", "workbook"),
    Column("element_id", "text", "element"),
    Column("impressions", "integer", "count"),
    Column("source_uri", "text", "file"),
)


def event(key: str, count: int, source: str) -> tuple[Any, ...]:
    return (key, datetime(2024, 5, 1, 9, tzinfo=UTC), DAY1, "a@example.com", "wb", "", count, source)


def test_upsert_from_staging_updates_and_inserts(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        tx.insert_rows(IMPRESSION_EVENTS, [event("e1", 1, "f1"), event("e2", 2, "f1")])
    with warehouse.transaction() as tx:
        staging = tx.create_temp_table(
            "impressions_staging", EVENT_STAGING, [event("e2", 5, "f2"), event("e3", 3, "f2")]
        )
        assert tx.count(staging) == 2
        tx.upsert(IMPRESSION_EVENTS, staging)
    assert warehouse.read_table(IMPRESSION_EVENTS) == [
        event("e1", 1, "f1"),
        event("e2", 5, "f2"),
        event("e3", 3, "f2"),
    ]


def test_upsert_without_update_columns_keeps_existing_rows(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        staging = tx.create_temp_table("staging", IMPRESSION_EVENTS)  # all DDL before the first write
        tx.insert_rows(IMPRESSION_EVENTS, [event("e1", 1, "f1")])
        tx.insert_rows(staging, [event("e1", 9, "f2"), event("e2", 2, "f2")])
        tx.upsert(IMPRESSION_EVENTS, staging, update_columns=[])
    assert warehouse.read_table(IMPRESSION_EVENTS) == [event("e1", 1, "f1"), event("e2", 2, "f2")]


def test_upsert_refuses_or_dedupes_duplicate_staging_keys(warehouse: Warehouse) -> None:
    rows = [event("e1", 1, "f2"), event("e1", 1, "f1"), event("e2", 2, "f1")]
    warehouse.ensure_tables(IMPRESSION_EVENTS)
    with (
        pytest.raises(
            WarehouseError, match=r"1 keys with several rows, e.g. \{'event_key': 'e1'\} \(2 rows\)"
        ),
        warehouse.transaction() as tx,
    ):
        tx.upsert(IMPRESSION_EVENTS, tx.create_temp_table("staging", EVENT_STAGING, rows))
    with warehouse.transaction() as tx:
        tx.upsert(IMPRESSION_EVENTS, tx.create_temp_table("staging", EVENT_STAGING, rows), dedupe=True)
    assert warehouse.read_table(IMPRESSION_EVENTS) == [event("e1", 1, "f1"), event("e2", 2, "f1")]


def test_upsert_rolls_back_with_the_transaction(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        tx.insert_rows(IMPRESSION_EVENTS, [event("e1", 1, "f1")])
    with pytest.raises(RuntimeError), warehouse.transaction() as tx:
        tx.upsert(IMPRESSION_EVENTS, tx.create_temp_table("staging", EVENT_STAGING, [event("e1", 7, "f2")]))
        raise RuntimeError("later step failed")
    assert warehouse.read_table(IMPRESSION_EVENTS) == [event("e1", 1, "f1")]


def test_raw_sql_with_adapted_parameters(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        tx.insert_rows(IMPRESSION_EVENTS, [event("e1", 1, "f1"), event("e2", 4, "f1")])
        ph = tx.placeholder
        sql = (
            f"SELECT COUNT(*), SUM(impressions) FROM {tx.table_name(IMPRESSION_EVENTS)} "
            f"WHERE day = {ph} AND request_time >= {ph} AND impressions > {ph}"
        )
        assert tx.query(sql, [DAY1, datetime(2024, 5, 1, 8, 59), 0]) == [(2, 5)]
        assert tx.query(sql, [DAY1, datetime(2024, 5, 1, 9, 0, 1, tzinfo=UTC), 0]) == [(0, None)]
        days = tx.query(
            f"SELECT DISTINCT day, 1.5 FROM {tx.table_name(IMPRESSION_EVENTS)}", types=["date", "float"]
        )
        assert days == [(DAY1, 1.5)]
        assert tx.delete(IMPRESSION_EVENTS, {"event_key": ["e1", "e9"]}) == 1


def test_table_prefix_and_schema_options(make_warehouse: Callable[..., Warehouse], backend: str) -> None:
    default = make_warehouse()
    assert default.unqualified_name(WORKBOOKS) == "sigma_workbooks"
    unprefixed = make_warehouse(table_prefix="")
    custom = make_warehouse(table_prefix="acme_sigma_")
    for warehouse, count in ((default, 1), (unprefixed, 2), (custom, 3)):
        with warehouse.transaction() as tx:
            tx.ensure_tables(WORKBOOKS)
            tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, workbook_rows(DAY1, count))
    assert unprefixed.table_name(WORKBOOKS) == "workbooks"
    assert [len(w.read_table(WORKBOOKS)) for w in (default, unprefixed, custom)] == [1, 2, 3]
    if backend == "sqlite":
        with pytest.raises(ValueError, match="SQLite has no schemas"):
            make_warehouse(schema="analytics")
        return
    # Created on first use; quoted as needed. (BigQuery dataset names have no spaces; it quotes with `.)
    schema, quoted = (
        ("Sigma_Analytics", "`Sigma_Analytics`")
        if backend == "bigquery"
        else ("Sigma Analytics", '"Sigma Analytics"')
    )
    in_schema = make_warehouse(schema=schema)
    assert in_schema.table_name(WORKBOOKS) == f"{quoted}.sigma_workbooks"
    in_schema.ensure_tables(WORKBOOKS)
    with in_schema.transaction() as tx:
        tx.replace_partition(WORKBOOKS, {"snapshot_date": DAY1}, workbook_rows(DAY1, 5))
        assert tx.query(f"SELECT COUNT(*) FROM {quoted}.sigma_workbooks") == [(5,)]
    assert len(default.read_table(WORKBOOKS)) == 1


def test_existing_table_gets_new_nullable_columns(warehouse: Warehouse) -> None:
    old = Table("things", (Column("id", "text", "id", False),), ("id",), "old version")
    new = Table("things", (*old.columns, Column("note", "text", "added later")), ("id",), "new version")
    with warehouse.transaction() as tx:
        tx.ensure_tables(old)
        tx.insert_rows(old, [("a",)])
    with warehouse.transaction() as tx:
        tx.ensure_tables(new)
        tx.insert_rows(new, [("b", "hello")])
    assert warehouse.read_table(new) == [("a", None), ("b", "hello")]
    required = Table("things", (*new.columns, Column("must", "integer", "required", False)), ("id",), "v3")
    with pytest.raises(WarehouseError, match=r"sigma_things exists but lacks required columns \['must'\]"):
        warehouse.ensure_tables(required)


def test_streamed_input_is_not_materialised(warehouse: Warehouse) -> None:
    """Rows from a generator load in bounded memory: far less than the rows held as one list."""
    count = 12_000
    warehouse.dialect.chunk_rows = 1_000
    if isinstance(warehouse.dialect, PostgresDialect):
        warehouse.dialect.copy_chunk_rows = 1_000
    if warehouse.dialect.name in ("snowflake", "bigquery"):
        return _assert_rows_are_sent_as_they_are_read(warehouse)

    def rows() -> Iterator[tuple[Any, ...]]:
        start = datetime(2024, 5, 1, tzinfo=UTC)
        for i in range(count):
            yield (
                f"event-{i:09d}",
                start + timedelta(seconds=i),
                DAY1,
                f"user{i % 97}@x.com",
                "wb",
                "",
                i,
                "s3://f",
            )

    def peak_memory(work: Callable[[], object]) -> int:
        tracemalloc.start()
        try:
            work()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    materialised = peak_memory(lambda: list(rows()))
    warehouse.ensure_tables(IMPRESSION_EVENTS)
    with warehouse.transaction() as tx:
        streamed = peak_memory(lambda: tx.insert_rows(IMPRESSION_EVENTS, rows()))
    assert streamed < materialised / 3, (streamed, materialised)
    with warehouse.transaction() as tx:
        assert tx.query(f"SELECT COUNT(*), SUM(impressions) FROM {tx.table_name(IMPRESSION_EVENTS)}") == [
            (count, count * (count - 1) // 2)
        ]


def _assert_rows_are_sent_as_they_are_read(warehouse: Warehouse) -> None:
    """The streaming check on Snowflake and BigQuery. tracemalloc would count fakesnow (or sqlglot in the
    BigQuery stand-in) too, which parses every statement in this process (about 6 KB per row of a
    multi-row INSERT; the real engines parse on their servers), so this checks the streaming itself:
    each statement is sent before the next rows are read."""
    per_statement, count = warehouse.dialect.rows_per_statement, 3_000
    read: list[int] = []
    read_when_sent: list[int] = []

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(count):
            read.append(i)
            yield (f"e{i}", datetime(2024, 5, 1, tzinfo=UTC), DAY1, "u@x.com", "wb", "", i, "s3://f")

    warehouse.ensure_tables(IMPRESSION_EVENTS)
    with warehouse.transaction() as tx:
        cursor = tx.cursor

        class Recording:
            def __getattr__(self, name: str) -> Any:
                return getattr(cursor, name)

            def execute(self, sql: str, params: Any = None) -> Any:
                read_when_sent.append(len(read))
                return cursor.execute(sql, params)

        tx.dialect.bulk_insert(
            Recording(), tx.table_name(IMPRESSION_EVENTS), IMPRESSION_EVENTS.columns, rows()
        )
    assert read_when_sent == [per_statement * n for n in range(1, count // per_statement + 1)]
    assert sorted(row[6] for row in warehouse.read_table(IMPRESSION_EVENTS)) == list(range(count))
