"""Value checking and conversion (pure functions)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_sigma.warehouse.values import (
    BadRowError,
    codec,
    column_chunks,
    from_db,
    timestamp_text,
    to_date,
    to_integer,
    to_json_text,
    to_timestamp,
    unchanged,
)

UTC = timezone.utc
PLUS_2 = timezone(timedelta(hours=2))


def test_timestamps_are_utc_and_fixed_width() -> None:
    assert timestamp_text(datetime(2024, 5, 1, 9, 0, tzinfo=PLUS_2)) == "2024-05-01T07:00:00.000000Z"
    assert timestamp_text(datetime(2024, 5, 1, 9, 0, 0, 5)) == "2024-05-01T09:00:00.000005Z"  # naive is UTC
    assert timestamp_text("2024-05-01T09:00:00Z") == "2024-05-01T09:00:00.000000Z"
    texts = [
        timestamp_text(datetime(2024, 5, 1, tzinfo=UTC) + timedelta(microseconds=n)) for n in (0, 1, 10**6)
    ]
    assert sorted(texts) == texts and len({len(t) for t in texts}) == 1


def test_to_timestamp() -> None:
    assert to_timestamp("2024-05-01 09:00:00+02:00") == datetime(2024, 5, 1, 7, tzinfo=UTC)
    assert to_timestamp(datetime(2024, 5, 1)).tzinfo is UTC
    with pytest.raises(TypeError, match="ISO 8601"):
        to_timestamp("May 1st")
    with pytest.raises(TypeError, match="datetime or ISO 8601"):
        to_timestamp(1714550400)


def test_strict_types() -> None:
    with pytest.raises(TypeError, match=r"expected an int, got True \(bool\)"):
        to_integer(True)
    with pytest.raises(TypeError, match="expected a date"):
        to_date(datetime(2024, 5, 1))  # a datetime is not a date here: ambiguous in UTC terms
    assert to_date("2024-05-01") == date(2024, 5, 1)


def test_json_text() -> None:
    assert to_json_text({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert to_json_text('{"already": "json"}') == '{"already": "json"}'
    with pytest.raises(TypeError, match="valid JSON"):
        to_json_text("{not json")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        to_json_text({"when": date(2024, 5, 1)})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        to_json_text(float("nan"))


def test_from_db_normalises_driver_values() -> None:
    assert from_db("date", "2024-05-01") == date(2024, 5, 1)
    assert from_db("timestamp", "2024-05-01T07:00:00.000000Z") == datetime(2024, 5, 1, 7, tzinfo=UTC)
    assert from_db("timestamp", datetime(2024, 5, 1, 9, tzinfo=PLUS_2)) == datetime(2024, 5, 1, 7, tzinfo=UTC)
    assert from_db("boolean", 1) is True
    assert from_db("json", '{"a": 1}') == {"a": 1}
    assert from_db("json", {"a": 1}) == {"a": 1}
    assert from_db("text", None) is None


def test_column_chunks_stream_and_report_the_failing_row() -> None:
    codecs = [codec(to_integer, (int,), unchanged), codec(str.upper)]
    rows = ((i, "x") for i in range(7))
    chunks = list(column_chunks(rows, codecs, ["n", "s"], "t", 3))
    assert [len(chunk[0]) for chunk in chunks] == [3, 3, 1]
    assert list(chunks[1][1]) == ["X", "X", "X"]
    bad = [(1, "a"), (2, "b"), (3, "c"), ("4", "d")]
    with pytest.raises(BadRowError, match=r"t: row 4, column 'n': expected an int, got '4' \(str\)"):
        list(column_chunks(bad, codecs, ["n", "s"], "t", 3))
    with pytest.raises(BadRowError, match=r"t: row 5 has 1 values, expected 2"):
        list(column_chunks([(1, "a")] * 4 + [(1,)], codecs, ["n", "s"], "t", 3))
