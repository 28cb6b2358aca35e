"""The robustness corpus: every malformed input gives a clear error or a counted skip, never silent loss."""

from __future__ import annotations

import io

import pytest

from airflow_sigma.events import (
    BadRowKind,
    EventFileError,
    FileErrorKind,
    read_audit_events,
    read_impressions,
)
from tests.events._util import IMPRESSION_HEADER, csv_bytes, read_all, read_audit

GOOD = "2024-05-01T10:00:00Z,ann@example.com,wb1,el1,1"


def test_missing_required_column_names_file_column_and_headers() -> None:
    with pytest.raises(EventFileError) as info:
        read_all(csv_bytes("request_time,user_email,element_id", "2024-05-01T10:00:00Z,a@x.com,e"))
    error = info.value
    assert error.uri == "mem://test.csv"
    assert error.kind is FileErrorKind.MISSING_COLUMN
    assert "'workbook_url_id'" in str(error)
    assert "'request_time,user_email,element_id'" in str(error)


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf", b"  \r\n"])
def test_empty_file_is_reported_not_raised(data: bytes) -> None:
    for reader in (read_impressions, read_audit_events):
        table, stats = read_all(data, reader)
        assert table.num_rows == 0
        assert stats.empty_file
        assert stats.rows_read == 0
        assert "empty file" in stats.summary()


def test_header_only() -> None:
    table, stats = read_all(csv_bytes(IMPRESSION_HEADER))
    assert table.num_rows == 0 and stats.rows_read == 0 and not stats.empty_file


def test_header_without_final_newline() -> None:
    table, stats = read_all(IMPRESSION_HEADER.encode())
    assert table.num_rows == 0 and not stats.empty_file


def test_utf8_bom_is_ignored() -> None:
    table, stats = read_all(b"\xef\xbb\xbf" + csv_bytes(IMPRESSION_HEADER, GOOD))
    assert table.num_rows == 1
    assert stats.columns["request_time"] == "request_time"


def test_utf16_file_is_refused_clearly() -> None:
    data = csv_bytes(IMPRESSION_HEADER, GOOD).decode().encode("utf-16")
    with pytest.raises(EventFileError, match="UTF-16"):
        read_all(data)


def test_semicolon_delimited_file_lists_the_single_header() -> None:
    data = csv_bytes("request_time;user_email;workbook_url_id", "2024-05-01T10:00:00Z;a@x.com;wb1")
    with pytest.raises(EventFileError) as info:
        read_all(data)
    assert "'request_time;user_email;workbook_url_id'" in str(info.value)
    assert "semicolons" in str(info.value)


def test_quoted_newlines_commas_and_quotes_inside_values() -> None:
    data = csv_bytes(
        IMPRESSION_HEADER,
        '2024-05-01T10:00:00Z,"ann@example.com","wb,1","el ""quoted""\nsecond line",3',
        GOOD,
    )
    table, stats = read_all(data)
    assert table.column("workbook_url_id").to_pylist() == ["wb,1", "wb1"]
    assert table.column("element_id").to_pylist()[0] == 'el "quoted"\nsecond line'
    assert stats.bad_total == 0


def test_unterminated_quote_costs_its_line_and_the_rest_of_the_file_is_read() -> None:
    data = csv_bytes(IMPRESSION_HEADER, GOOD, '2024-05-01T11:00:00Z,"bob@example.com,wb2,,1', GOOD, GOOD)
    table, stats = read_all(data)
    assert table.num_rows == 3
    assert stats.rows_read == 4
    assert stats.bad_rows == {BadRowKind.UNTERMINATED_QUOTE.value: 1}
    sample = stats.samples[0]
    assert sample.line == 3
    assert "a quote opened on line 3 is never closed" in sample.reason
    assert "went on with the next line" in sample.reason


@pytest.mark.parametrize("chunk_bytes", [64, 1 << 20])
def test_a_stray_quote_early_in_a_long_file_hides_no_row(chunk_bytes: int) -> None:
    rows = [f"2024-05-01T11:{n % 60:02d}:{n // 60 % 60:02d}Z,v{n}@x.com,wbB,,1" for n in range(1000)]
    rows[10] = '2024-05-01T11:10:00Z,v10@x.com,"wbB,,1'
    table, stats = read_all(csv_bytes(IMPRESSION_HEADER, *rows), chunk_bytes=chunk_bytes)
    assert (stats.rows_read, table.num_rows) == (1000, 999)
    assert stats.bad_rows == {BadRowKind.UNTERMINATED_QUOTE.value: 1}
    assert [s.line for s in stats.samples] == [12]
    assert "v999@x.com" in table.column("user_email").to_pylist()


def test_an_unterminated_quote_after_a_multi_line_value_counts_every_line_of_its_row() -> None:
    data = csv_bytes(IMPRESSION_HEADER, GOOD, '2024-05-01T11:00:00Z,"two\nlines",wb2,"el,1', GOOD)
    table, stats = read_all(data)
    assert (stats.rows_read, table.num_rows) == (4, 2)
    assert stats.bad_rows == {BadRowKind.UNTERMINATED_QUOTE.value: 2}
    assert stats.samples[0].line == 4
    assert (
        "opened on line 4" in stats.samples[0].reason and "lines 3-4 were skipped" in stats.samples[0].reason
    )


def test_two_stray_quotes_joining_lines_count_every_line_they_join() -> None:
    rows = [GOOD] * 3 + ['2024-05-01T11:00:00Z,"bob@x.com,wb2,,1'] + [GOOD] * 5
    rows += ['2024-05-01T11:00:00Z,bob@x.com,"wb2,,1'] + [GOOD] * 2
    table, stats = read_all(csv_bytes(IMPRESSION_HEADER, *rows))
    assert (stats.rows_read, table.num_rows) == (12, 5)
    assert stats.bad_rows == {BadRowKind.WRONG_FIELD_COUNT.value: 7}
    assert [s.line for s in stats.samples] == [5]
    assert "spanning 7 lines, each counted" in stats.samples[0].reason


def test_unterminated_quote_longer_than_the_limit_fails_the_file() -> None:
    rows = [GOOD] * 50 + ['2024-05-01T11:00:00Z,"bob@example.com,wb2,,1'] + [GOOD] * 200
    batches, _ = read_impressions(
        io.BytesIO(csv_bytes(IMPRESSION_HEADER, *rows)),
        "mem://big.csv",
        chunk_bytes=1024,
        max_record_bytes=4096,
    )
    with pytest.raises(EventFileError) as info:
        list(batches)
    assert info.value.kind is FileErrorKind.UNREADABLE
    assert "mem://big.csv" in str(info.value) and "never closed" in str(info.value)


def test_wrong_number_of_fields() -> None:
    data = csv_bytes(IMPRESSION_HEADER, GOOD, "2024-05-01T10:00:00Z,a@x.com", GOOD + ",extra", GOOD)
    table, stats = read_all(data)
    assert table.num_rows == 2
    assert stats.bad_rows == {BadRowKind.WRONG_FIELD_COUNT.value: 2}
    assert [s.line for s in stats.samples] == [3, 4]
    assert "expected 5 fields, found 2" in stats.samples[0].reason


def test_stray_quote_inside_an_unquoted_field_is_a_literal() -> None:
    data = csv_bytes(IMPRESSION_HEADER, '2024-05-01T10:00:00Z,ann@example.com,wb1,24" screen,1', GOOD)
    table, stats = read_all(data, chunk_bytes=40)
    assert table.column("element_id").to_pylist() == ['24" screen', "el1"]
    assert stats.bad_total == 0


@pytest.mark.parametrize("column", [1, 2, 3])
def test_bytes_that_are_not_utf8(column: int) -> None:
    fields = GOOD.encode().split(b",")
    fields[column] = fields[column] + b"\xff\xfe"
    data = csv_bytes(IMPRESSION_HEADER, GOOD) + b",".join(fields) + b"\n" + csv_bytes(GOOD)[:-1] + b"\n"
    table, stats = read_all(data)
    assert table.num_rows == 2
    assert stats.bad_rows == {BadRowKind.INVALID_UTF8.value: 1}
    assert stats.samples[0].line == 3
    assert "not UTF-8" in stats.samples[0].reason


def test_invalid_utf8_in_a_column_impressions_do_not_read_is_harmless() -> None:
    data = csv_bytes("request_time,user_email,workbook_url_id,comment", "2024-05-01T10:00:00Z,a@x.com,wb1,x")
    data += b"2024-05-01T10:00:00Z,b@x.com,wb1,caf\xe9\n"
    table, stats = read_all(data)
    assert table.num_rows == 2 and stats.bad_total == 0


def test_invalid_utf8_in_an_audit_attribute_is_a_bad_row() -> None:
    data = csv_bytes("timestamp,event_type,comment", "2024-05-01T10:00:00Z,TEAMS,x")
    data += b"2024-05-01T10:00:00Z,TEAMS,caf\xe9\n"
    table, stats = read_audit(data)
    assert table.num_rows == 1
    assert stats.bad_rows == {BadRowKind.INVALID_UTF8.value: 1}
    assert "'comment'" in stats.samples[0].reason


SECRET_ROW = b"2024-05-01T11:00:00Z,jane.secret\xe9@corp.com,wbA,,,extra\n"


@pytest.mark.parametrize("chunk_bytes", [128, 1 << 20])
def test_wrong_field_count_with_bytes_that_are_not_utf8_is_counted_not_raised(chunk_bytes: int) -> None:
    rows = [f"2024-05-01T10:{n % 60:02d}:00Z,user{n}@x.com,wbA,,1" for n in range(30)]
    data = csv_bytes(IMPRESSION_HEADER, *rows[:10]) + SECRET_ROW + csv_bytes(*rows[10:])[:-1] + b"\n"
    data += b"2024-05-01T11:00:00Z,caf\xe9@x.com,wbA,,1\n" + SECRET_ROW + csv_bytes(GOOD)
    table, stats = read_all(data, chunk_bytes=chunk_bytes, email_salt="pepper")
    assert (stats.rows_read, table.num_rows) == (34, 31)
    assert stats.bad_rows == {BadRowKind.WRONG_FIELD_COUNT.value: 2, BadRowKind.INVALID_UTF8.value: 1}
    assert sorted((s.line, s.kind) for s in stats.samples) == [
        (12, "wrong_field_count"),
        (33, "invalid_utf8"),
        (34, "wrong_field_count"),
    ]
    assert all(
        "expected 5 fields, found 6" in s.reason for s in stats.samples if s.kind == "wrong_field_count"
    )


def test_audit_row_with_wrong_field_count_and_bytes_that_are_not_utf8() -> None:
    data = (
        b"Event Id,Request Time,Event Type,Event Name,Event Status,User Email,Object Name\n"
        b"1,2024-05-01T08:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,\n"
        b"2,2024-05-01T08:01:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,Caf\xe9\n"
        b"3,2024-05-01T08:02:00Z,ACCESS_SIGMA,Login,Success,bob@x.com,Caf\xe9,extra\n"
        b"4,2024-05-01T08:03:00Z,ACCESS_SIGMA,Login,Success,bob@x.com,Caf\xc3\xa9\n"
    )
    table, stats = read_audit(data)
    assert table.column("event_id").to_pylist() == ["1", "4"]
    assert stats.bad_rows == {BadRowKind.WRONG_FIELD_COUNT.value: 1, BadRowKind.INVALID_UTF8.value: 1}
    assert sorted((s.line, s.kind) for s in stats.samples) == [(3, "invalid_utf8"), (4, "wrong_field_count")]


def test_a_bad_row_is_never_located_inside_a_quoted_value() -> None:
    value = "el\nshort,row\nend"
    data = csv_bytes(IMPRESSION_HEADER, f'2024-05-01T10:00:00Z,a@x.com,wb@@,"{value}",1', "short,row")
    table, stats = read_all(data.replace(b"@@", b"\xe9"))
    assert table.num_rows == 0 and stats.rows_read == 2
    assert stats.bad_rows == {"invalid_utf8": 1, "wrong_field_count": 1}
    assert {s.kind: s.line for s in stats.samples}["wrong_field_count"] == 5
    table, stats = read_all(data.replace(b"@@", b"A"))
    assert table.column("element_id").to_pylist() == [value]
    assert [(s.line, s.kind) for s in stats.samples] == [(5, "wrong_field_count")]


def test_rows_with_the_same_text_are_located_one_after_the_other() -> None:
    bad = "2024-05-01T10:00:00Z,a@x.com"
    table, stats = read_all(csv_bytes(IMPRESSION_HEADER, GOOD, bad, GOOD, bad, "x,y,z,w,v"))
    assert table.num_rows == 2
    lines = [(s.line, s.kind) for s in stats.samples]
    assert lines == [(3, "wrong_field_count"), (5, "wrong_field_count"), (6, "bad_timestamp")]


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_cr_and_crlf_line_endings_give_every_row_and_its_line(newline: str) -> None:
    data = csv_bytes(IMPRESSION_HEADER, GOOD, "not a time,a@x.com,wbA,,1", GOOD + ",x", GOOD, newline=newline)
    table, stats = read_all(data, chunk_bytes=16)
    assert (stats.rows_read, table.num_rows) == (4, 2)
    assert sorted((s.line, s.kind) for s in stats.samples) == [(3, "bad_timestamp"), (4, "wrong_field_count")]
    _, audit = read_audit(csv_bytes("Request Time,Event Type", "2024-05-01T10:00:00Z,TEAMS", newline=newline))
    assert audit.rows_accepted == 1


def test_nul_bytes_in_stored_values_are_bad_rows() -> None:
    data = csv_bytes(
        IMPRESSION_HEADER + ",comment",
        GOOD + ",x",
        "2024-05-01T10:00:01Z,a@x.com,wb\x00A,,1,x",
        "2024-05-01T10:00:02Z,a\x00@x.com,wbA,,1,x",
        "2024-05-01T10:00:03Z,a@x.com,wbA,,1,not stored\x00",
    )
    table, stats = read_all(data)
    assert table.num_rows == 2
    assert stats.bad_rows == {BadRowKind.NUL_BYTE.value: 2}
    assert [s.line for s in stats.samples] == [4, 3]
    assert "NUL byte (\\x00) in column 'user_email'" in stats.samples[0].reason
    audit = csv_bytes(
        "Request Time,Event Type,Note", "2024-05-01T10:00:00Z,TEAMS,a\x00", "2024-05-01T10:00:00Z,TEAMS,b"
    )
    table, stats = read_audit(audit)
    assert table.num_rows == 1 and stats.bad_rows == {BadRowKind.NUL_BYTE.value: 1}
    assert "column 'Note'" in stats.samples[0].reason


def test_non_utf8_header_fails_the_file() -> None:
    with pytest.raises(EventFileError, match="header line is not UTF-8"):
        read_all(b"request_time,user_\xe9mail,workbook_url_id\n")


def test_bad_timestamp_and_empty_values() -> None:
    data = csv_bytes(
        IMPRESSION_HEADER,
        GOOD,
        "yesterday,a@x.com,wb1,,1",
        ",a@x.com,wb1,,1",
        "   ,a@x.com,wb1,,1",
        "2024-05-01T10:00:00Z,,wb1,,1",
        "2024-05-01T10:00:00Z,  ,wb1,,1",
        "2024-05-01T10:00:00Z,a@x.com,,el,1",
    )
    table, stats = read_all(data)
    assert table.num_rows == 1
    assert stats.bad_rows == {BadRowKind.BAD_TIMESTAMP.value: 1, BadRowKind.MISSING_VALUE.value: 5}
    reasons = [s.reason for s in stats.samples]
    assert any(
        r.startswith("request_time 'yesterday' (column 'request_time') is not an ISO 8601") for r in reasons
    )
    assert any("empty user_email" in r for r in reasons)
    assert any("empty workbook_url_id" in r for r in reasons)


@pytest.mark.parametrize(
    "count", ["-1", "0", "1.5", "99999999999999999999999", "2147483648", "1e3", "1,000", "two", "0x10"]
)
def test_bad_counts(count: str) -> None:
    data = csv_bytes(IMPRESSION_HEADER, GOOD, f'2024-05-01T10:00:00Z,a@x.com,wb1,el,"{count}"')
    table, stats = read_all(data)
    assert table.num_rows == 1
    assert stats.bad_rows == {BadRowKind.BAD_COUNT.value: 1}
    assert repr(count) in stats.samples[0].reason


@pytest.mark.parametrize(
    ("count", "expected"),
    [("", 1), ("1", 1), ("7", 7), ("+3", 3), ("3.0", 3), (" 12 ", 12), ("2147483647", 2**31 - 1)],
)
def test_good_counts(count: str, expected: int) -> None:
    table, _ = read_all(csv_bytes(IMPRESSION_HEADER, f'2024-05-01T10:00:00Z,a@x.com,wb1,el,"{count}"'))
    assert table.column("impressions").to_pylist() == [expected]


def test_duplicate_headers_in_audit_attributes_are_numbered() -> None:
    data = csv_bytes("timestamp,event_type,IP,IP,IP", "2024-05-01T10:00:00Z,TEAMS,a,b,c")
    table, _ = read_audit(data)
    assert table.column("attributes").to_pylist() == ['{"IP":"a","IP (2)":"b","IP (3)":"c"}']


def test_exact_duplicate_required_header_fails_the_file() -> None:
    with pytest.raises(EventFileError) as info:
        read_all(csv_bytes("request_time,user_email,workbook_url_id,user_email", "x,y,z,w"))
    assert info.value.kind is FileErrorKind.DUPLICATE_COLUMN
    assert "columns 2, 4" in str(info.value)


def test_line_of_several_megabytes() -> None:
    long_value = "e" * (3 * 1024 * 1024)
    header = f"{IMPRESSION_HEADER},note"
    data = csv_bytes(header, f"{GOOD},", f"2024-05-01T10:00:00Z,a@x.com,wb1,el2,2,{long_value}", f"{GOOD},")
    # An id that long cannot be a Sigma id (and cannot be indexed by PostgreSQL): a counted bad row.
    data += csv_bytes(f"2024-05-01T10:00:00Z,a@x.com,wb1,{long_value},2,")
    for chunk_bytes in (64 * 1024, 16 * 1024 * 1024):
        table, stats = read_all(data, chunk_bytes=chunk_bytes)
        assert table.column("element_id").to_pylist() == ["el1", "el2", "el1"]
        assert stats.bad_rows == {BadRowKind.VALUE_TOO_LONG.value: 1}
        assert stats.samples[0].line == 5 and "longer than the 512 bytes" in stats.samples[0].reason


def test_crlf_line_endings() -> None:
    data = csv_bytes(IMPRESSION_HEADER, GOOD, '2024-05-01T10:00:00Z,b@x.com,wb2,"a\r\nb",', newline="\r\n")
    table, stats = read_all(data)
    assert table.column("workbook_url_id").to_pylist() == ["wb1", "wb2"]
    assert table.column("element_id").to_pylist() == ["el1", "a\r\nb"]
    assert table.column("impressions").to_pylist() == [1, 1]
    assert stats.columns["count"] == "count"  # no '\r' stuck to the last header


def test_blank_lines_are_not_rows() -> None:
    table, stats = read_all(csv_bytes(IMPRESSION_HEADER, "", GOOD, "", "", GOOD, ""))
    assert table.num_rows == 2 and stats.rows_read == 2


def test_every_kind_in_one_file_keeps_the_invariant_across_pieces() -> None:
    rows = []
    for i in range(300):
        rows += [
            f"2024-05-01T10:00:{i % 60:02d}Z,u{i}@x.com,wb{i},el,1",
            "bad-time,a@x.com,wb,,1",
            "2024-05-01T10:00:00Z,a@x.com,wb,,0",
            "2024-05-01T10:00:00Z,a@x.com",
            '2024-05-01T10:00:00Z,"multi\nline@x.com",wb,,1',
        ]
    data = csv_bytes(IMPRESSION_HEADER, *rows) + b"2024-05-01T10:00:00Z,a@x.com,wb\xff,,1\n"
    table, stats = read_all(data, chunk_bytes=997, batch_rows=50, max_samples=5)
    assert table.num_rows == 600
    assert stats.rows_read == 1501
    assert stats.bad_rows == {
        "bad_timestamp": 300,
        "bad_count": 300,
        "wrong_field_count": 300,
        "invalid_utf8": 1,
    }
    assert len(stats.samples) == 5
