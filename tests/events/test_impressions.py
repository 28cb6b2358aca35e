"""Impressions: the prepared shape, raw audit-log exports with impression_filter, event keys, hashing."""

from __future__ import annotations

import io

import pytest

from airflow_sigma.events import (
    DEFAULT_IMPRESSION_FILTER,
    IMPRESSION_SCHEMA,
    EventFileError,
    hash_email,
    read_impressions,
)
from tests.events._util import IMPRESSION_HEADER, csv_bytes, read_all

PREPARED = csv_bytes(
    IMPRESSION_HEADER,
    "2024-05-01T10:00:00Z,Ann@Example.com,wbA,,",  # workbook-level
    "2024-05-01T10:05:00Z,ann@example.com,wbA,el1,1",  # element-level
    "2024-05-02T08:00:00Z,bob@example.com,wbA,el1,5",  # count > 1, second user
)

RAW_HEADER = "Timestamp,Event Type,Event Name,Event Status,User Email,Workbook URL ID,Element ID"
RAW = csv_bytes(
    RAW_HEADER,
    "2024-05-01T09:00:00Z,ACCESS_SIGMA,Login,Success,ann@example.com,,",
    "2024-05-01T09:01:00Z,OBJECT_INTERACTION,View Workbook,Success,ann@example.com,wbA,",
    "2024-05-01T09:02:00Z,object_interactions,OPEN_WORKBOOK,Success,bob@example.com,wbB,el9",
    "2024-05-01T09:03:00Z,OBJECT_INTERACTION,Edit Workbook,Success,bob@example.com,wbB,",
    "2024-05-01T09:04:00Z,ACCESS_SIGMA,Login,Failure,eve@example.com,,",
    "2024-05-01T09:05:00Z,QUERY_EXECUTIONS,Run Query,Success,bob@example.com,wbB,el9",
)


def test_prepared_shape() -> None:
    table, stats = read_all(PREPARED)
    assert table.schema == IMPRESSION_SCHEMA
    rows = table.to_pylist()
    assert [r["user_email"] for r in rows] == ["ann@example.com", "ann@example.com", "bob@example.com"]
    assert [r["element_id"] for r in rows] == ["", "el1", "el1"]
    assert [r["impressions"] for r in rows] == [1, 1, 5]
    assert stats.rows_read == 3 and stats.rows_accepted == 3 and stats.bad_total == 0


def test_missing_optional_columns_default() -> None:
    table, _ = read_all(
        csv_bytes("request_time,user_email,workbook_url_id", "2024-05-01T10:00:00Z,a@x.com,wb")
    )
    assert table.to_pylist()[0]["element_id"] == ""
    assert table.to_pylist()[0]["impressions"] == 1


def test_raw_audit_export_uses_the_default_filter_and_counts_the_rest_as_filtered() -> None:
    table, stats = read_all(RAW)
    assert table.column("workbook_url_id").to_pylist() == ["wbA", "wbB"]
    assert table.column("element_id").to_pylist() == ["", "el9"]
    assert stats.rows_filtered == 4  # two logins, an edit, a query
    assert stats.bad_total == 0
    assert stats.columns["event_type"] == "Event Type"


def test_custom_impression_filter_by_logical_names_and_headers() -> None:
    table, stats = read_all(
        RAW,
        impression_filter={
            "event_type": ["Object Interaction"],
            "Event Status": ["success"],
            "event_name": ["*"],
        },
    )
    assert table.column("workbook_url_id").to_pylist() == ["wbA", "wbB", "wbB"]
    assert stats.rows_filtered == 3


def test_empty_filter_keeps_every_row_with_the_required_values() -> None:
    table, stats = read_all(RAW, impression_filter={})
    # login rows have no workbook: they are bad rows (missing value), not impressions
    assert table.num_rows == 4
    assert stats.bad_rows == {"missing_value": 2}


def test_filter_on_a_column_the_raw_export_lacks_fails_clearly() -> None:
    data = csv_bytes(
        "Timestamp,Event Type,User Email,Workbook URL ID", "2024-05-01T09:00:00Z,OBJECT_INTERACTION,a@x,w"
    )
    with pytest.raises(EventFileError, match=r"no column 'event_name' used by impression_filter"):
        read_all(data)


def test_prepared_shape_ignores_the_filter() -> None:
    table, stats = read_all(PREPARED, impression_filter={"event_name": ["never"]})
    assert table.num_rows == 3 and stats.rows_filtered == 0


def test_filter_value_must_be_a_collection() -> None:
    with pytest.raises(ValueError, match="collection of values"):
        read_all(RAW, impression_filter={"event_type": "OBJECT_INTERACTION"})


def test_default_filter_is_documented_and_public() -> None:
    assert DEFAULT_IMPRESSION_FILTER["event_type"] == ("OBJECT_INTERACTION",)


def test_event_keys_are_stable_across_files_and_distinct_between_events() -> None:
    first, _ = read_all(PREPARED)
    other_file = csv_bytes(
        "count,element_id,workbook_url_id,user_email,request_time",  # other order, other rows
        "9,el1,wbZ,zed@example.com,2024-05-03T00:00:00Z",
        "5,el1,wbA,BOB@example.com,2024-05-02T08:00:00.000000+00:00",
        ",,wbA, ann@example.com ,2024-05-01 10:00:00",
    )
    second, _ = read_all(other_file, chunk_bytes=32)
    first_keys = first.column("event_key").to_pylist()
    second_keys = second.column("event_key").to_pylist()
    assert len(set(first_keys)) == 3
    assert second_keys[1] == first_keys[2]
    assert second_keys[2] == first_keys[0]
    assert second_keys[0] not in first_keys


def test_keys_of_values_with_separators_do_not_collide() -> None:
    data = csv_bytes(
        IMPRESSION_HEADER,
        "2024-05-01T10:00:00Z,a|b@x.com,wb,,",
        "2024-05-01T10:00:00Z,a,b@x.com|wb,,",
        "2024-05-01T10:00:00Z,a%7Cb@x.com,wb,,",
    )
    table, _ = read_all(data)
    assert len(set(table.column("event_key").to_pylist())) == 3
    clean, _ = read_all(csv_bytes(IMPRESSION_HEADER, "2024-05-01T10:00:00Z,a@x.com,wb,,"))
    mixed, _ = read_all(
        csv_bytes(IMPRESSION_HEADER, "2024-05-01T10:00:00Z,a@x.com,wb,,", "2024-05-01T10:00:00Z,x|y,wb,,")
    )
    assert clean.column("event_key")[0] == mixed.column("event_key")[0]


def test_event_id_becomes_the_key_and_empty_ids_are_bad_rows() -> None:
    data = csv_bytes(
        "event_id,request_time,user_email,workbook_url_id",
        "ev-1,2024-05-01T10:00:00Z,a@x.com,wb",
        ",2024-05-01T10:00:00Z,a@x.com,wb",
    )
    table, stats = read_all(data)
    assert table.column("event_key").to_pylist() == ["ev-1"]
    assert stats.bad_rows == {"missing_event_id": 1} and stats.samples[0].line == 3
    assert stats.columns["event_id"] == "event_id"


def test_request_id_is_used_only_when_named() -> None:
    data = csv_bytes(
        "Request ID,request_time,user_email,workbook_url_id", "r-1,2024-05-01T10:00:00Z,a@x.com,wb"
    )
    table, _ = read_all(data)
    assert table.column("event_key")[0].as_py() != "r-1"
    table, _ = read_all(data, event_id_column="Request ID")
    assert table.column("event_key")[0].as_py() == "r-1"


def test_email_salt_hashes_emails_and_keys() -> None:
    table, _ = read_all(PREPARED, email_salt="pepper")
    emails = table.column("user_email").to_pylist()
    assert emails[0] == hash_email("ann@example.com", "pepper") == emails[1]
    assert all("example.com" not in key for key in table.column("event_key").to_pylist())


def test_batches_respect_batch_rows_and_stats_finish_with_the_iterator() -> None:
    rows = [f"2024-05-01T10:00:{i % 60:02d}Z,u{i}@x.com,wb,,1" for i in range(1000)]
    batches, stats = read_impressions(
        io.BytesIO(csv_bytes(IMPRESSION_HEADER, *rows)), "mem://x", batch_rows=100
    )
    sizes = []
    for batch in batches:
        assert not stats.complete
        sizes.append(batch.num_rows)
    assert max(sizes) == 100 and sum(sizes) == 1000
    assert stats.complete and stats.rows_accepted == 1000


def test_without_read_ahead() -> None:
    batches, stats = read_impressions(io.BytesIO(PREPARED), "mem://x", read_ahead=False)
    assert sum(b.num_rows for b in batches) == 3 and stats.complete


def test_header_problems_raise_before_iteration() -> None:
    with pytest.raises(EventFileError):
        read_impressions(io.BytesIO(b"a,b\n1,2\n"), "mem://x")


def test_non_ascii_emails_are_lowercased() -> None:
    table, _ = read_all(csv_bytes(IMPRESSION_HEADER, "2024-05-01T10:00:00Z, ÉVA@Exämple.com ,wb,,"))
    assert table.column("user_email").to_pylist() == ["éva@exämple.com"]
