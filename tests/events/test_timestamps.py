"""Timestamp parsing: every accepted form, time zones, UTC days, and the same result on every path."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pyarrow as pa
import pytest

from airflow_sigma.events.values import parse_timestamps
from tests.events._util import IMPRESSION_HEADER, csv_bytes, read_all

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:20:30Z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01 10:20:30", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01t10:20:30z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20:30.5Z", datetime(2024, 5, 1, 10, 20, 30, 500000, tzinfo=UTC)),
        ("2024-05-01T10:20:30.123456789Z", datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2024-05-01 10:20:30.123", datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)),
        ("2024-05-01T10:20:30+02:00", datetime(2024, 5, 1, 8, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20:30+0200", datetime(2024, 5, 1, 8, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20:30+02", datetime(2024, 5, 1, 8, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20:30-05:30", datetime(2024, 5, 1, 15, 50, 30, tzinfo=UTC)),
        ("2024-05-01 10:20:30.123 -0700", datetime(2024, 5, 1, 17, 20, 30, 123000, tzinfo=UTC)),
        ("2024-05-01 10:20:30 UTC", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        (" 2024-05-01T10:20:30Z ", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20", datetime(2024, 5, 1, 10, 20, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    for values in ([text], [text, "2024-05-01T00:00:00Z"], [text, "not a time"]):
        parsed, bad = parse_timestamps(pa.array(values))
        assert parsed[0].as_py() == expected, values
        assert not bad[0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2024-02-30T10:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-05-01T25:00:00Z",
        "2024-05-01T10:20:30+24:00",
        "2024-05-01T10:20:30+05:99",
        "01/05/2024 10:20",
        "1714559696",
        "2024-05-01T10:20:30ZZ",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
    ],
)
def test_rejected_forms(text: str) -> None:
    for values in ([text], [text, "2024-05-01T00:00:00Z"], ["2024-05-01 00:00:00", text]):
        parsed, bad = parse_timestamps(pa.array(values))
        position = values.index(text)
        assert bad[position] and parsed[position].as_py() is None, values
        assert bad.sum() == 1


def test_offsets_move_events_across_the_utc_day_boundary() -> None:
    data = csv_bytes(
        IMPRESSION_HEADER,
        "2024-05-01T23:30:00-02:00,a@x.com,wb1,,",  # 01:30 UTC on May 2
        "2024-05-02T00:30:00+02:00,a@x.com,wb1,,",  # 22:30 UTC on May 1
        "2024-05-01 23:59:59.999999,a@x.com,wb1,,",  # naive = UTC
        "2024-05-02T00:00:00Z,a@x.com,wb1,,",
    )
    table, _ = read_all(data)
    assert table.column("day").to_pylist() == [
        date(2024, 5, 2),
        date(2024, 5, 1),
        date(2024, 5, 1),
        date(2024, 5, 2),
    ]
    assert table.schema.field("request_time").type == pa.timestamp("us", tz="UTC")
    assert table.column("request_time")[0].as_py() == datetime(2024, 5, 2, 1, 30, tzinfo=UTC)


def test_the_same_instant_in_different_forms_gives_one_key() -> None:
    forms = [
        "2024-05-01T10:00:00Z",
        "2024-05-01 10:00:00",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01 03:00:00.000 -0700",
    ]
    keys = set()
    for form in forms:
        table, _ = read_all(csv_bytes(IMPRESSION_HEADER, f"{form},a@x.com,wb1,el,1"))
        keys.add(table.column("event_key")[0].as_py())
    assert len(keys) == 1
