"""Header matching: normalisation, aliases, priorities, column_map, missing and ambiguous columns."""

from __future__ import annotations

import pytest

from airflow_sigma.events import (
    AUDIT_COLUMN_ALIASES,
    IMPRESSION_COLUMN_ALIASES,
    EventFileError,
    FileErrorKind,
    normalise_header,
)
from airflow_sigma.events.columns import resolve_columns
from tests.events._util import csv_bytes, read_all, read_audit

ROW = "2024-05-01T10:00:00Z,ann@example.com,wbUrl1,el1,2"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Request Time", "requesttime"),
        ("USER_EMAIL", "useremail"),
        ("workbook-url-id", "workbookurlid"),
        (" Élément ID ", "élémentid"),
        ("count(*)", "count"),
    ],
)
def test_normalise_header(name: str, expected: str) -> None:
    assert normalise_header(name) == expected


@pytest.mark.parametrize(
    "header",
    [
        "request_time,user_email,workbook_url_id,element_id,count",
        "Request Time,User Email,Workbook URL ID,Element ID,Count",
        "REQUEST_TIME,USER_EMAIL,WORKBOOK_URL_ID,ELEMENT_ID,COUNT",
        "timestamp,email,Document URL ID,workbook element id,impressions",
        "Event Time,Email Address,workbook_url_id,element_id,view_count",
    ],
)
def test_impression_headers_and_aliases(header: str) -> None:
    table, stats = read_all(csv_bytes(header, ROW))
    assert table.to_pylist()[0]["workbook_url_id"] == "wbUrl1"
    assert table.column("element_id").to_pylist() == ["el1"]
    assert table.column("impressions").to_pylist() == [2]
    assert set(stats.columns) == {"request_time", "user_email", "workbook_url_id", "element_id", "count"}


def test_workbook_uuid_is_not_an_alias_of_the_url_id() -> None:
    data = csv_bytes("request_time,user_email,workbook_id", "2024-05-01T10:00:00Z,a@x.com,0f4e-uuid")
    with pytest.raises(EventFileError) as info:
        read_all(data)
    assert info.value.kind is FileErrorKind.MISSING_COLUMN
    assert "'workbook_url_id'" in str(info.value)
    assert "workbook_id" in str(info.value)  # lists the file's headers


def test_column_map_overrides_aliases() -> None:
    data = csv_bytes(
        "When,Who,Workbook,email,timestamp",
        "2024-05-01T10:00:00Z,who@x.com,wb9,ignored@x.com,2000-01-01T00:00:00Z",
    )
    column_map = {"request_time": "When", "user_email": "who", "workbook_url_id": "WORKBOOK"}
    table, stats = read_all(data, column_map=column_map)
    assert table.column("user_email").to_pylist() == ["who@x.com"]
    assert str(table.column("request_time")[0].as_py()) == "2024-05-01 10:00:00+00:00"
    assert stats.columns["user_email"] == "Who"


def test_column_map_to_a_header_the_file_lacks() -> None:
    with pytest.raises(EventFileError, match=r"column_map maps 'user_email' to 'Viewer'.*header line starts"):
        read_all(
            csv_bytes("request_time,user_email,workbook_url_id", ROW), column_map={"user_email": "Viewer"}
        )


def test_column_map_with_unknown_logical_name() -> None:
    with pytest.raises(ValueError, match="unknown logical columns"):
        read_all(csv_bytes("request_time,user_email,workbook_url_id", ROW), column_map={"colour": "x"})


def test_first_alias_wins_over_later_ones() -> None:
    data = csv_bytes(
        "email,user_email,request_time,workbook_url_id", "other@x.com,main@x.com,2024-05-01T10:00:00Z,w"
    )
    table, stats = read_all(data)
    assert table.column("user_email").to_pylist() == ["main@x.com"]
    assert stats.columns["user_email"] == "user_email"


def test_two_spellings_of_one_column_are_ambiguous() -> None:
    data = csv_bytes(
        "request_time,user_email,User Email,workbook_url_id", "2024-05-01T10:00:00Z,a@x.com,b@x.com,w"
    )
    with pytest.raises(EventFileError) as info:
        read_all(data)
    assert info.value.kind is FileErrorKind.DUPLICATE_COLUMN
    assert "'user_email', 'User Email'" in str(info.value)
    assert "mem://test.csv" in str(info.value)


def test_column_map_resolves_the_ambiguity() -> None:
    data = csv_bytes(
        "request_time,user_email,User Email,workbook_url_id", "2024-05-01T10:00:00Z,a@x.com,b@x.com,w"
    )
    table, _ = read_all(data, column_map={"user_email": "User Email"})
    assert table.column("user_email").to_pylist() == ["b@x.com"]


def test_missing_columns_message_lists_accepted_names_and_headers() -> None:
    with pytest.raises(EventFileError) as info:
        read_all(csv_bytes("time,who,what", "1,2,3"))
    message = str(info.value)
    assert message.startswith(
        "mem://test.csv: required columns 'request_time', 'user_email', 'workbook_url_id'"
    )
    assert "workbook_url_id: workbook_url_id, document_url_id" in message
    assert "'time,who,what'" in message


def test_alias_tables_are_public_and_cover_the_required_columns() -> None:
    assert {"request_time", "user_email", "workbook_url_id", "element_id", "count"} <= set(
        IMPRESSION_COLUMN_ALIASES
    )
    assert {"request_time", "event_type", "event_name", "event_status", "user_email"} <= set(
        AUDIT_COLUMN_ALIASES
    )
    assert "request_id" not in IMPRESSION_COLUMN_ALIASES["event_id"]


def test_resolve_columns_directly() -> None:
    resolved = resolve_columns(
        "f.csv", ["Timestamp", "Event Type", "X"], AUDIT_COLUMN_ALIASES, ("request_time", "event_type"), None
    )
    assert resolved.index == {"request_time": 0, "event_type": 1}
    assert resolved.used_names() == {"request_time": "Timestamp", "event_type": "Event Type"}


def test_audit_requires_event_type() -> None:
    with pytest.raises(EventFileError, match="'event_type' not found"):
        read_audit(csv_bytes("timestamp,user_email", "2024-05-01T10:00:00Z,a@x.com"))


def test_event_id_column_and_column_map_must_agree() -> None:
    with pytest.raises(ValueError, match="different headers"):
        read_all(
            csv_bytes("request_time,user_email,workbook_url_id", ROW),
            event_id_column="A",
            column_map={"event_id": "B"},
        )
