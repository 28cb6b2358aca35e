"""Audit events: every category kept, categories filter, attributes, event keys across exports."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest

from airflow_sigma.events import AUDIT_EVENT_SCHEMA, KNOWN_AUDIT_CATEGORIES, EventFileError
from tests.events._util import csv_bytes, read_audit

FRIENDLY = (
    "Timestamp,Event Type,Event Name,Event Status,User Email,"
    "Object Id,Object Name,Object Type,Reason Code,Element"
)
EXPORT = csv_bytes(
    FRIENDLY,
    "2024-05-01T08:00:00Z,ACCESS_SIGMA,Login,Success,Ann@Example.com,,,,,",
    "2024-05-01T08:00:01Z,ACCESS_SIGMA,Login,Failure,eve@example.com,,,,BAD_PASSWORD,",
    "2024-05-01T08:01:00Z,OBJECT_INTERACTIONS,Open Workbook,Success,ann@example.com,wb1,"
    '"Sales, ""Q1""",workbook,,',
    "2024-05-01T08:02:00Z,QUERY_EXECUTIONS,Run Query,Success,ann@example.com,wb1,Sales,workbook,,el1",
    "2024-05-01T08:02:00Z,QUERY_EXECUTIONS,Run Query,Success,ann@example.com,wb1,Sales,workbook,,el2",
    "2024-05-01T08:03:00Z,AI_CONVERSATIONS,Ask,Success,bob@example.com,,,,,",
)


def test_every_row_of_every_category_is_kept() -> None:
    table, stats = read_audit(EXPORT)
    assert table.schema == AUDIT_EVENT_SCHEMA
    assert table.column("event_type").to_pylist() == [
        "ACCESS_SIGMA",
        "ACCESS_SIGMA",
        "OBJECT_INTERACTIONS",
        "QUERY_EXECUTIONS",
        "QUERY_EXECUTIONS",
        "AI_CONVERSATIONS",
    ]
    first = table.to_pylist()[0]
    assert first["user_email"] == "ann@example.com"
    assert first["event_name"] == "Login" and first["event_status"] == "Success"
    assert first["object_id"] is None and first["event_id"] is None
    assert first["day"] == date(2024, 5, 1)
    assert stats.rows_filtered == 0 and stats.bad_total == 0


def test_attributes_hold_the_other_columns_as_json_with_original_headers() -> None:
    table, _ = read_audit(EXPORT)
    attributes = [json.loads(a) for a in table.column("attributes").to_pylist()]
    assert attributes[1] == {"Reason Code": "BAD_PASSWORD", "Element": None}
    assert attributes[3] == {"Reason Code": None, "Element": "el1"}
    assert table.column("object_name").to_pylist()[2] == 'Sales, "Q1"'


def test_attribute_values_are_escaped_json() -> None:
    data = csv_bytes("timestamp,event_type,Note", '2024-05-01T08:00:00Z,TEAMS,"a\\b ""c""\nd\te\x01"')
    table, _ = read_audit(data)
    assert json.loads(table.column("attributes")[0].as_py()) == {"Note": 'a\\b "c"\nd\te\x01'}


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (["OBJECT_INTERACTION"], ["OBJECT_INTERACTIONS"]),
        (
            ["access sigma", "Query Execution"],
            ["ACCESS_SIGMA", "ACCESS_SIGMA", "QUERY_EXECUTIONS", "QUERY_EXECUTIONS"],
        ),
        (["AI_*"], ["AI_CONVERSATIONS"]),
        (["PERMISSIONS"], []),
    ],
)
def test_categories_filter_matches_loosely(categories: list[str], expected: list[str]) -> None:
    table, stats = read_audit(EXPORT, categories=categories)
    assert table.column("event_type").to_pylist() == expected
    assert stats.rows_filtered == 6 - len(expected)


def test_known_categories_are_listed() -> None:
    assert "OBJECT_INTERACTION" in KNOWN_AUDIT_CATEGORIES and "MATERIALIZATIONS" in KNOWN_AUDIT_CATEGORIES


def test_categories_must_be_a_collection() -> None:
    with pytest.raises(ValueError, match="collection"):
        read_audit(EXPORT, categories="ACCESS_SIGMA")


def test_rows_without_category_or_time_are_bad() -> None:
    data = csv_bytes(
        "timestamp,event_type,event_name",
        "2024-05-01T08:00:00Z,,Login",
        ",TEAMS,Add",
        "soon,TEAMS,Add",
        "2024-05-01T08:00:00Z,TEAMS,Add",
    )
    table, stats = read_audit(data, categories=["TEAMS"])
    assert table.num_rows == 1
    assert stats.bad_rows == {"missing_value": 2, "bad_timestamp": 1}


def test_distinct_events_get_distinct_keys() -> None:
    table, _ = read_audit(EXPORT)
    keys = table.column("event_key").to_pylist()
    assert len(set(keys)) == 6  # rows 4 and 5 differ only in the Element attribute
    times = table.column("request_time").cast(pa.int64()).to_pylist()
    assert [key.split(";")[0] for key in keys] == [str(t) for t in times]


#: The keys version 0.1.0 stored for EXPORT (the hash alone): what today's keys must end with, so that
#: the audit job can rekey those events when it meets them again.
KEYS_OF_0_1_0 = [
    "6ddeb680989b1d72e47c45774f866f2b", "b1e1356c03be1c8e7a399b8537411c0e",
    "2e73aebde83d93773f15f77320435529", "1522b9a48a46c7d9eb9a5d1ad99582c3",
    "be858e39bb7d9138b148092ee67a4fd4", "4c46b6c95a746c92f0d09e95e17278f1",
]  # fmt: skip


def test_keys_are_the_time_then_the_hash_version_0_1_0_stored() -> None:
    table, _ = read_audit(EXPORT)
    assert [key.split(";")[1] for key in table.column("event_key").to_pylist()] == KEYS_OF_0_1_0


def test_the_same_event_in_an_overlapping_export_gets_the_same_key() -> None:
    first, _ = read_audit(EXPORT)
    column_ids = (
        "EVENT_NAME,REQUEST_TIME,EVENT_TYPE,EVENT_STATUS,USER_EMAIL,OBJECT_ID,OBJECT_NAME,OBJECT_TYPE,"
        "ELEMENT,REASON_CODE,NEW_COLUMN"
    )
    second_export = csv_bytes(
        column_ids,
        "Run Query,2024-05-01 08:02:00,QUERY_EXECUTIONS,Success,ANN@example.com,wb1,Sales,workbook,el2,,",
        "Login,2024-05-02T00:00:00Z,ACCESS_SIGMA,Success,ann@example.com,,,,,,",
        "Login,2024-05-01T10:00:01+02:00,ACCESS_SIGMA,Failure,eve@example.com,,,,,BAD_PASSWORD,",
    )
    second, _ = read_audit(second_export, chunk_bytes=64)
    first_keys = first.column("event_key").to_pylist()
    second_keys = second.column("event_key").to_pylist()
    assert second_keys[0] == first_keys[4]
    assert second_keys[2] == first_keys[1]
    assert second_keys[1] not in first_keys


def test_a_new_value_in_an_extra_column_changes_the_key_unless_key_columns_narrow_it() -> None:
    base = csv_bytes("timestamp,event_type,event_name,user_email", "2024-05-01T08:00:00Z,TEAMS,Add,a@x.com")
    more = csv_bytes(
        "timestamp,event_type,event_name,user_email,Team Name", "2024-05-01T08:00:00Z,TEAMS,Add,a@x.com,Ops"
    )
    key = lambda data, **kw: read_audit(data, **kw)[0].column("event_key")[0].as_py()  # noqa: E731
    assert key(base) != key(more)
    narrow = ["event_type", "event_name", "user_email"]
    assert key(base, key_columns=narrow) == key(more, key_columns=narrow)
    assert key(base, key_columns=["event_type"]) == key(more, key_columns=["Event Type"])


def test_key_columns_must_exist() -> None:
    with pytest.raises(EventFileError, match="key_columns names 'Team'"):
        read_audit(EXPORT, key_columns=["Team"])


def test_event_id_is_the_key_when_present() -> None:
    data = csv_bytes(
        "Event ID,timestamp,event_type",
        "e-1,2024-05-01T08:00:00Z,TEAMS",
        ",2024-05-01T08:00:00Z,TEAMS",
        "e-3,2024-05-01T08:00:00Z,TEAMS",
    )
    table, stats = read_audit(data)
    assert table.column("event_key").to_pylist() == ["e-1", "e-3"]
    assert table.column("event_id").to_pylist() == ["e-1", "e-3"]
    assert stats.bad_rows == {"missing_event_id": 1} and stats.samples[0].line == 3
    assert json.loads(table.column("attributes")[0].as_py()) == {}
    assert stats.columns["event_id"] == "Event ID"


def test_repeated_headers_never_collide_with_existing_ones() -> None:
    data = csv_bytes("timestamp,event_type,IP,IP,IP (2)", "2024-05-01T10:00:00Z,TEAMS,a,b,c")
    table, _ = read_audit(data)
    assert json.loads(table.column("attributes")[0].as_py()) == {"IP": "a", "IP (3)": "b", "IP (2)": "c"}


def test_attribute_values_are_verbatim_base_values_trimmed() -> None:
    data = csv_bytes("timestamp,event_type,event_name,Note", "2024-05-01T10:00:00Z, TEAMS , Add ,  padded ")
    row = read_audit(data)[0].to_pylist()[0]
    assert (row["event_type"], row["event_name"]) == ("TEAMS", "Add")
    assert json.loads(row["attributes"]) == {"Note": "  padded "}


def test_non_ascii_values_round_trip() -> None:
    data = csv_bytes(
        "timestamp,event_type,user_email,Note", "2024-05-01T10:00:00Z,TEAMS,ÉVA@Exämple.com,naïve ☃\x02"
    )
    row = read_audit(data)[0].to_pylist()[0]
    assert row["user_email"] == "éva@exämple.com"
    assert json.loads(row["attributes"]) == {"Note": "naïve ☃\x02"}
