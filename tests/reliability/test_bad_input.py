"""The bad-input corpus, end to end: each malformed export file goes through the real loader
(``load_exports`` with the impressions or the audit job) into a real warehouse, and gives either a clear
error that names the file and what was expected (and writes nothing), or counted skips with
``rows read = accepted + filtered + bad`` in ``sigma_export_files`` and in the run's result.

The parser-level details are in tests/events/test_robustness.py; this is the loader-level table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.events import EventFileError
from airflow_sigma.loading import FileResult
from airflow_sigma.warehouse import (
    AUDIT_EVENTS,
    IMPRESSION_EVENTS,
    Table,
    Warehouse,
)
from tests.fixtures.exports import (
    HEADER,
    at,
    export_rows,
    load_impressions,
    make_warehouse,
    tables,
    write_export,
)
from tests.reliability.jobs import JOB_TABLES, load_job

RUN_DATE = date(2024, 5, 1)
GOOD = "2024-05-01T10:00:00Z,ann@x.com,wbA,el1,1"
GOOD2 = "2024-05-01T11:00:00Z,bob@x.com,wbB,,2"
AUDIT_HEADER = "Event Id,Request Time,Event Type,Event Name,Event Status,User Email,Client IP"
AUDIT_GOOD = "e1,2024-05-01T10:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,10.0.0.1"
ISO = "is not an ISO 8601 time"
BIG = "e" * (4 * 1024 * 1024)

Check = Callable[[Warehouse, FileResult], None]
STRAY_QUOTE_ROWS = [f"2024-05-01T11:{n % 60:02d}:{n // 60:02d}Z,v{n}@x.com,wbB,,1" for n in range(1000)]
STRAY_QUOTE_ROWS[10] = '2024-05-01T11:10:00Z,v10@x.com,"wbB,,1'


def csv(*lines: str, header: str = HEADER) -> bytes:
    return "".join(f"{line}\n" for line in (header, *lines)).encode()


def stored(warehouse: Warehouse, table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.column_names, row, strict=True)) for row in warehouse.read_table(table)]


def from_file(warehouse: Warehouse, table: Table, result: FileResult) -> list[dict[str, Any]]:
    """The stored events whose values come from the file of ``result``."""
    return [row for row in stored(warehouse, table) if row["source_uri"] == result.export["uri"]]


def utc_days(expected: dict[str, date], key: str = "user_email", table: Table = IMPRESSION_EVENTS) -> Check:
    """Each event (identified by ``key``) is stored on the given UTC day."""

    def check(warehouse: Warehouse, result: FileResult) -> None:
        assert {row[key]: row["day"] for row in from_file(warehouse, table, result)} == expected

    return check


def element_ids(*expected: str) -> Check:
    def check(warehouse: Warehouse, result: FileResult) -> None:
        rows = from_file(warehouse, IMPRESSION_EVENTS, result)
        assert sorted(row["element_id"] for row in rows) == sorted(expected)

    return check


def read_from(**columns: str) -> Check:
    def check(_: Warehouse, result: FileResult) -> None:
        assert {k: result.stats.columns[k] for k in columns} == columns

    return check


def attributes(expected: dict[str, str]) -> Check:
    def check(warehouse: Warehouse, result: FileResult) -> None:
        [row] = from_file(warehouse, AUDIT_EVENTS, result)
        value = row["attributes"]
        assert (json.loads(value) if isinstance(value, str) else value) == expected

    return check


@dataclass(frozen=True)
class Case:
    """One kind of bad input and what must come of it.

    :param data: the file's bytes.
    :param job: ``impressions`` or ``audit``.
    :param error: for a refused file: the ``FileErrorKind`` value; the rest of the counts is unused.
    :param says: substrings of the error message, or of the skipped rows' reasons.
    :param read: rows read.
    :param accepted: rows accepted.
    :param bad: skipped rows by kind.
    :param lines: the line of each skipped row, in order.
    :param status: ``sigma_export_files.status``.
    :param check: further checks of what was stored.
    """

    data: bytes
    job: str = "impressions"
    error: str | None = None
    says: tuple[str, ...] = ()
    read: int = 0
    accepted: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    lines: tuple[int, ...] = ()
    status: str = "loaded"
    check: Check | None = None


MISSING = "required column"
CASES: dict[str, Case] = {
    # -- refused files: a clear error, nothing written ----------------------------------------------------
    "missing-required-column": Case(
        b"request_time,user_email,element_id\n2024-05-01T10:00:00Z,a@x.com,e\n",
        error="missing_column",
        says=(
            "'workbook_url_id' not found",
            "document_url_id",
            "column_map",
            "'request_time,user_email,element_id'",
        ),
    ),
    "semicolon-delimiter": Case(
        csv(GOOD.replace(",", ";"), header=HEADER.replace(",", ";")),
        error="missing_column",
        says=(MISSING, "semicolon", "comma"),
    ),
    "tab-delimiter": Case(
        csv(GOOD.replace(",", "\t"), header=HEADER.replace(",", "\t")),
        error="missing_column",
        says=(MISSING, "tab"),
    ),
    "non-utf8-header": Case(
        b"request_time,user_\xe9mail,workbook_url_id\n2024-05-01T10:00:00Z,a@x.com,wbA\n",
        error="bad_header",
        says=("header line is not UTF-8", "export the file as UTF-8"),
    ),
    "utf16-file": Case(
        csv(GOOD).decode().encode("utf-16"), error="unreadable", says=("UTF-16", "export it as UTF-8")
    ),
    "utf16-file-without-bom": Case(
        csv(GOOD).decode().encode("utf-16-le"), error="bad_header", says=("NUL bytes", "UTF-16", "UTF-8 CSV")
    ),
    "duplicate-headers": Case(
        b"request_time,user_email,workbook_url_id,user_email\n2024-05-01T10:00:00Z,a@x.com,wbA,b@x.com\n",
        error="duplicate_column",
        says=("'user_email'", "columns 2, 4", "column_map"),
    ),
    "duplicate-headers-by-spelling": Case(
        b"Request Time,user_email,workbook_url_id,USER EMAIL\n2024-05-01T10:00:00Z,a@x.com,wbA,b@x.com\n",
        error="duplicate_column",
        says=("'user_email', 'USER EMAIL'", "columns 2, 4"),
    ),
    "audit-missing-event-type": Case(
        b"Event Id,Request Time,Event Name\ne1,2024-05-01T10:00:00Z,Login\n",
        job="audit",
        error="missing_column",
        says=("'event_type' not found", "event_category", "'Event Id,Request Time,Event Name'"),
    ),
    "audit-duplicate-event-type": Case(
        b"Event Id,Request Time,Event Type,EVENT_TYPE\ne1,2024-05-01T10:00:00Z,TEAMS,X\n",
        job="audit",
        error="duplicate_column",
        says=("'event_type'", "columns 3, 4"),
    ),
    # -- read, with every row accounted for ---------------------------------------------------------------
    "empty-file": Case(b"", status="empty"),
    "header-only": Case(csv()),
    "utf8-bom": Case(
        b"\xef\xbb\xbf" + csv(GOOD, GOOD2), read=2, accepted=2, check=read_from(request_time="request_time")
    ),
    "quoted-newlines": Case(
        csv(GOOD, '2024-05-01T10:00:01Z,ann@x.com,wbA,"el, ""2""\nsecond line",1'),
        read=2,
        accepted=2,
        check=element_ids("el1", 'el, "2"\nsecond line'),
    ),
    "unterminated-quote": Case(
        csv(GOOD, '2024-05-01T11:00:00Z,"bob@x.com,wbB,,1', GOOD2),
        read=3,
        accepted=2,
        bad={"unterminated_quote": 1},
        lines=(3,),
        says=("a quote opened on line 3 is never closed", "went on with the next line"),
    ),
    "stray-quote-early-in-a-long-file": Case(
        csv(*STRAY_QUOTE_ROWS),
        read=1000,
        accepted=999,
        bad={"unterminated_quote": 1},
        lines=(12,),
        says=("a quote opened on line 12 is never closed",),
    ),
    "wrong-field-count": Case(
        csv(GOOD, "2024-05-01T10:00:00Z,a@x.com", GOOD2 + ",extra"),
        read=3,
        accepted=1,
        bad={"wrong_field_count": 2},
        lines=(3, 4),
        says=("expected 5 fields, found 2", "expected 5 fields, found 6"),
    ),
    "wrong-field-count-and-non-utf8": Case(
        csv(GOOD) + b"2024-05-01T11:00:00Z,jane.secret\xe9@corp.com,wbA,,,extra\n" + f"{GOOD2}\n".encode(),
        read=3,
        accepted=2,
        bad={"wrong_field_count": 1},
        lines=(3,),
        says=("expected 5 fields, found 6",),
    ),
    "cr-line-endings": Case(
        csv(GOOD, "yesterday,b@x.com,wbA,,1", GOOD2).replace(b"\n", b"\r"),
        read=3,
        accepted=2,
        bad={"bad_timestamp": 1},
        lines=(3,),
        says=("'yesterday'",),
        check=element_ids("", "el1"),
    ),
    "crlf-line-endings": Case(
        csv(GOOD, GOOD2 + ",extra", '2024-05-01T11:00:00Z,bob@x.com,wbB,"a\nb",').replace(b"\n", b"\r\n"),
        read=3,
        accepted=2,
        bad={"wrong_field_count": 1},
        lines=(3,),
        says=("expected 5 fields, found 6",),
        check=element_ids("a\r\nb", "el1"),
    ),
    "nul-byte": Case(
        csv(GOOD, "2024-05-01T10:00:01Z,a@x.com,wb\x00A,,1", "2024-05-01T10:00:02Z,a\x00@x.com,wbA,,1"),
        read=3,
        accepted=1,
        bad={"nul_byte": 2},
        lines=(4, 3),
        says=("NUL byte (\\x00) in column 'workbook_url_id'", "column 'user_email'"),
    ),
    "non-utf8-value": Case(
        csv(GOOD) + b"2024-05-01T10:00:01Z,b\xffob@x.com,wbA,,1\n",
        read=2,
        accepted=1,
        bad={"invalid_utf8": 1},
        lines=(3,),
        says=("not UTF-8 in column 'user_email'",),
    ),
    "bad-timestamp": Case(
        csv(GOOD, "31/12/2024 10:00,a@x.com,wbA,,1", "yesterday,b@x.com,wbA,,1"),
        read=3,
        accepted=1,
        bad={"bad_timestamp": 2},
        lines=(3, 4),
        says=("request_time '31/12/2024 10:00' (column 'request_time')", ISO, "'yesterday'"),
    ),
    "time-zones": Case(
        csv(
            "2024-05-01T23:30:00-02:00,west@x.com,wbA,,1",  # 01:30 UTC the next day
            "2024-05-02T01:30:00+05:30,east@x.com,wbA,,1",  # 20:00 UTC the day before
            "2024-05-01 22:00:00 UTC,utc@x.com,wbA,,1",
            "2024-05-01T22:00:00+0300,compact@x.com,wbA,,1",
            "2024-05-01T22:00:00,naive@x.com,wbA,,1",  # no zone: UTC
            "2024-05-01T10:00:00 PST,pst@x.com,wbA,,1",
            "2024-05-01T10:00:00+25:00,bogus@x.com,wbA,,1",
            "1960-01-01T00:00:00Z,old@x.com,wbA,,1",
        ),
        read=8,
        accepted=5,
        bad={"bad_timestamp": 3},
        lines=(7, 8, 9),
        says=("'2024-05-01T10:00:00 PST'", "'2024-05-01T10:00:00+25:00'", "'1960-01-01T00:00:00Z'", ISO),
        check=utc_days(
            {
                "west@x.com": date(2024, 5, 2),
                "east@x.com": date(2024, 5, 1),
                "utc@x.com": date(2024, 5, 1),
                "compact@x.com": date(2024, 5, 1),
                "naive@x.com": date(2024, 5, 1),
            }
        ),
    ),
    "negative-count": Case(
        csv(GOOD, "2024-05-01T10:00:01Z,a@x.com,wbA,,-3", "2024-05-01T10:00:02Z,a@x.com,wbA,,0"),
        read=3,
        accepted=1,
        bad={"bad_count": 2},
        lines=(3, 4),
        says=("count '-3' is not a whole number >= 1", "count '0'"),
    ),
    "decimal-count": Case(
        csv(GOOD, "2024-05-01T10:00:01Z,a@x.com,wbA,,2.5", "2024-05-01T10:00:02Z,a@x.com,wbA,,3.0"),
        read=3,
        accepted=2,
        bad={"bad_count": 1},
        lines=(3,),
        says=("count '2.5' is not a whole number >= 1",),
    ),
    "huge-count": Case(
        csv(
            GOOD,
            "2024-05-01T10:00:01Z,a@x.com,wbA,,99999999999999999999",
            "2024-05-01T10:00:02Z,a@x.com,wbA,,2147483648",
        ),
        read=3,
        accepted=1,
        bad={"bad_count": 2},
        lines=(3, 4),
        says=("count '99999999999999999999' is not a whole number >= 1", "'2147483648'"),
    ),
    "empty-emails": Case(
        csv(GOOD, "2024-05-01T10:00:01Z,,wbA,,1", "2024-05-01T10:00:02Z,   ,wbA,,1"),
        read=3,
        accepted=1,
        bad={"missing_value": 2},
        lines=(3, 4),
        says=("empty user_email (column 'user_email')",),
    ),
    "line-of-several-mb": Case(
        csv(f"{GOOD},{BIG}", f"{GOOD2},short", header=f"{HEADER},comment"),
        read=2,
        accepted=2,
        check=element_ids("", "el1"),
    ),
    "id-of-several-mb": Case(
        csv(GOOD, f"2024-05-01T10:00:01Z,a@x.com,wbA,{BIG},2", GOOD2),
        read=3,
        accepted=2,
        bad={"value_too_long": 1},
        lines=(3,),
        says=("element_id (column 'element_id') is longer than the 512 bytes allowed",),
        check=element_ids("", "el1"),
    ),
    "audit-time-zones-and-range": Case(
        csv(
            "e1,2024-05-01T23:30:00-02:00,ACCESS_SIGMA,first,Success,a@x.com,",
            "e2,2024-05-01T10:00:00 PST,ACCESS_SIGMA,second,Success,a@x.com,",
            "e3,2199-12-31T23:59:59Z,ACCESS_SIGMA,third,Success,a@x.com,",
            "e4,2200-01-01T00:00:00Z,ACCESS_SIGMA,fourth,Success,a@x.com,",
            header=AUDIT_HEADER,
        ),
        job="audit",
        read=4,
        accepted=1,
        bad={"bad_timestamp": 2, "future_timestamp": 1},  # 2199 is in range, but after the run's end
        lines=(3, 5, 4),
        says=("(column 'Request Time')", "'2200-01-01T00:00:00Z'", ISO, "'2199-12-31T23:59:59Z'", "is after"),
        check=utc_days({"first": date(2024, 5, 2)}, "event_name", AUDIT_EVENTS),
    ),
    "audit-non-utf8-attribute": Case(
        csv(AUDIT_GOOD, header=AUDIT_HEADER)
        + b"e2,2024-05-01T10:00:00Z,ACCESS_SIGMA,Login,Success,a@x.com,10.0.\xff\n",
        job="audit",
        read=2,
        accepted=1,
        bad={"invalid_utf8": 1},
        lines=(3,),
        says=("not UTF-8 in column 'Client IP'",),
    ),
    "audit-wrong-field-count-and-non-utf8": Case(
        csv(AUDIT_GOOD, header=AUDIT_HEADER)
        + b"e2,2024-05-01T10:00:00Z,ACCESS_SIGMA,Login,Success,bob@x.com,10.0.\xff,extra\n"
        + b"e3,2024-05-01T10:00:00Z,ACCESS_SIGMA,Login,Success,bob@x.com,10.0.\xff\n",
        job="audit",
        read=3,
        accepted=1,
        bad={"wrong_field_count": 1, "invalid_utf8": 1},
        lines=(3, 4),
        says=("expected 7 fields, found 8", "not UTF-8 in column 'Client IP'"),
    ),
    "audit-nul-byte": Case(
        csv(
            AUDIT_GOOD,
            "e2,2024-05-01T10:00:00Z,ACCESS_SIGMA,Login,Success,a@x.com,10.0.\x00",
            header=AUDIT_HEADER,
        ),
        job="audit",
        read=2,
        accepted=1,
        bad={"nul_byte": 1},
        lines=(3,),
        says=("NUL byte (\\x00) in column 'Client IP'",),
    ),
    "audit-empty-event-type": Case(
        csv(AUDIT_GOOD, "e2,2024-05-01T10:00:00Z,,Login,Success,a@x.com,", header=AUDIT_HEADER),
        job="audit",
        read=2,
        accepted=1,
        bad={"missing_value": 1},
        lines=(3,),
        says=("empty event_type",),
    ),
    "audit-line-of-several-mb": Case(
        csv(
            f"{AUDIT_GOOD[:-8]}{BIG}",
            f"e2,2024-05-01T10:00:01Z,TEAMS,{BIG},Success,a@x.com,",
            header=AUDIT_HEADER,
        ),
        job="audit",
        read=2,
        accepted=1,
        bad={"value_too_long": 1},
        lines=(3,),
        says=("event_name (column 'Event Name') is longer than the 512 bytes allowed",),
        check=utc_days({"Login": date(2024, 5, 1)}, "event_name", AUDIT_EVENTS),
    ),
    "audit-duplicate-attribute-headers": Case(
        b"Event Id,Request Time,Event Type,IP,IP,ip\ne1,2024-05-01T10:00:00Z,TEAMS,a,b,c\n",
        job="audit",
        read=1,
        accepted=1,
        check=attributes({"IP": "a", "IP (2)": "b", "ip": "c"}),
    ),
}


def assert_counted(warehouse: Warehouse, name: str, case: Case, result: FileResult, log: str) -> None:
    """The file's counts, in the run's result and in ``sigma_export_files``, and the skipped rows' reasons."""
    stats = result.stats
    row = export_rows(warehouse, case.job)[name]
    counts = (
        row["rows_read"],
        row["rows_accepted"],
        row["rows_filtered"],
        row["bad_row_kinds"],
        row["status"],
    )
    assert counts == (case.read, case.accepted, 0, case.bad, case.status)
    assert (stats.rows_read, stats.rows_accepted, stats.rows_filtered, stats.bad_rows) == counts[:4]
    assert row["bad_rows"] == sum(row["bad_row_kinds"].values())
    assert row["rows_read"] == row["rows_accepted"] + row["rows_filtered"] + row["bad_rows"]
    assert [s.line for s in stats.samples] == list(case.lines)
    assert [s.kind for s in stats.samples] == [kind for kind, n in case.bad.items() for _ in range(n)]
    reasons = " | ".join(s.reason for s in stats.samples)
    assert all(text in reasons for text in case.says), reasons
    for sample in stats.samples:  # the task log names the file, the line and the kind of each
        assert f"bad row ({stats.uri} line {sample.line}, {sample.kind})" in log
    target = IMPRESSION_EVENTS if case.job == "impressions" else AUDIT_EVENTS
    kept = [r for r in stored(warehouse, target) if r["source_uri"] == stats.uri]
    assert len(kept) == stats.rows_accepted - result.duplicates  # nothing lost silently


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_file(
    request: pytest.FixtureRequest, tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASES[name]
    warehouse = make_warehouse(request, tmp_path, "sqlite")
    good = csv(GOOD) if case.job == "impressions" else csv(AUDIT_GOOD, header=AUDIT_HEADER)
    earlier = write_export(tmp_path / "earlier", "good.csv", good, modified=at("2024-05-01T06:00"))
    load_job(case.job, warehouse, [earlier], RUN_DATE, 1.0)
    before = tables(warehouse, JOB_TABLES[case.job])
    export = write_export(tmp_path / "exports", f"{name}.csv", case.data, modified=at("2024-05-01T12:00"))
    if case.error is not None:
        with pytest.raises(EventFileError) as raised:
            load_job(case.job, warehouse, [earlier, export], RUN_DATE, 1.0)
        message = str(raised.value)
        assert raised.value.kind.value == case.error
        assert message.startswith(f"{export['uri']}: ")
        assert all(text in message for text in case.says), message
        assert tables(warehouse, JOB_TABLES[case.job]) == before  # nothing written
        return
    caplog.set_level("INFO", logger="airflow_sigma.loading.loader")
    result = load_job(case.job, warehouse, [export], RUN_DATE, 1.0)
    [file_result] = result.files
    assert_counted(warehouse, f"{name}.csv", case, file_result, caplog.text)
    assert result.totals()["rows_read"] == case.read
    if case.check is not None:
        case.check(warehouse, file_result)


@pytest.mark.parametrize("job", ["impressions", "audit"])
def test_every_readable_kind_in_one_run_on_postgres(
    request: pytest.FixtureRequest, tmp_path: Path, job: str, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = make_warehouse(request, tmp_path, "postgres")
    chosen = {name: case for name, case in CASES.items() if case.job == job and case.error is None}
    files = [
        write_export(
            tmp_path, f"{name}.csv", case.data, modified=at("2024-05-01T12:00") + timedelta(minutes=i)
        )
        for i, (name, case) in enumerate(chosen.items())
    ]
    caplog.set_level("INFO", logger="airflow_sigma.loading.loader")
    result = load_job(job, warehouse, files, RUN_DATE, 1.0)
    by_uri = {r.export["uri"]: r for r in result.files}
    for export, (name, case) in zip(files, chosen.items(), strict=True):
        assert_counted(warehouse, f"{name}.csv", case, by_uri[export["uri"]], caplog.text)
    totals = result.totals()
    assert totals["rows_read"] == sum(c.read for c in chosen.values())
    assert totals["rows_read"] == totals["rows_accepted"] + totals["rows_filtered"] + totals["bad_rows"]
    assert totals["bad_rows"] == sum(totals["bad_row_kinds"].values())
    assert len(chosen) >= (8 if job == "impressions" else 2)


def test_bad_rows_never_put_a_hashed_email_in_an_error_or_the_log(
    request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = make_warehouse(request, tmp_path, "sqlite")
    rows = [f"2024-05-01T10:{n % 60:02d}:{n // 60:02d}Z,user{n}@x.com,wbA,," for n in range(1000)]
    secret = "jane.secret@corp.com"
    data = csv(*rows, f"yesterday,{secret},wbA,,", f"2024-05-01T11:00:00Z,{secret},wbA,,,extra")
    data += f"2024-05-01T11:00:00Z,{secret[:-4]}".encode() + b"\xe9.com,wbA,,,extra\n"
    data += f'2024-05-01T11:00:00Z,{secret},"wbA,,\n{GOOD2}\n'.encode()
    export = write_export(tmp_path, "secret.csv", data, modified=at("2024-05-01T12:00"))
    caplog.set_level("DEBUG")
    result = load_impressions(warehouse, [export], RUN_DATE, email_salt="pepper")
    [file_result] = result.files
    assert file_result.stats.bad_rows == {"bad_timestamp": 1, "wrong_field_count": 2, "unterminated_quote": 1}
    assert (file_result.stats.rows_read, file_result.stats.rows_accepted) == (1005, 1001)
    assert "jane.secret" not in caplog.text
    assert "jane.secret" not in repr(tables(warehouse))
