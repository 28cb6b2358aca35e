"""Per-file accounting of the rows an event file held, and the errors for files that cannot be read."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from airflow_sigma.exceptions import BadInputError

DEFAULT_MAX_SAMPLES = 20
#: The most bytes one byte of gzip (deflate) data can inflate to.
MAX_DEFLATE_RATIO = 1032


class BadRowKind(str, Enum):
    """Why a row was skipped. The value is the key used in :attr:`FileStats.bad_rows`.

    A row is counted once, under one kind. Its structure is checked first: a row with the wrong number
    of fields is ``wrong_field_count`` even when it also has bytes that are not UTF-8. A value's bytes
    (``invalid_utf8``, then ``nul_byte``) are checked before what it says. A row of a file with an
    event-id column whose id is empty is ``missing_event_id`` (it cannot be deduplicated safely); an
    event dated after the run's latest plausible time is ``future_timestamp``. A malformed row spanning
    several physical lines (a stray quote joins lines into one row) counts once per line, so the lines
    it swallowed are never hidden.
    """

    WRONG_FIELD_COUNT = "wrong_field_count"
    UNTERMINATED_QUOTE = "unterminated_quote"
    INVALID_UTF8 = "invalid_utf8"
    NUL_BYTE = "nul_byte"
    MISSING_VALUE = "missing_value"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_COUNT = "bad_count"
    VALUE_TOO_LONG = "value_too_long"
    MISSING_EVENT_ID = "missing_event_id"
    FUTURE_TIMESTAMP = "future_timestamp"


class FileErrorKind(str, Enum):
    """Why a whole file could not be read (see :class:`EventFileError`)."""

    MISSING_COLUMN = "missing_column"
    DUPLICATE_COLUMN = "duplicate_column"
    BAD_HEADER = "bad_header"
    UNREADABLE = "unreadable"


class EventFileError(BadInputError, ValueError):
    """A whole file cannot be read: a required column is missing, a header is ambiguous, ...

    The message names the file. Raised when the reader is created (header problems) or while iterating
    (a row that never ends); in the second case batches already yielded must be discarded.

    :param uri: the file.
    :param kind: what went wrong.
    :param detail: the explanation, without the file name.
    """

    def __init__(self, uri: str, kind: FileErrorKind, detail: str) -> None:
        super().__init__(f"{uri}: {detail}")
        self.uri = uri
        self.kind = kind
        self.detail = detail


class BadRowSample(NamedTuple):
    """One skipped row, for the logs.

    :param line: physical line number in the file (the header is line 1), when known.
    :param kind: a :class:`BadRowKind` value.
    :param reason: short explanation with the offending value.
    """

    line: int | None
    kind: str
    reason: str


@dataclass
class FileStats:
    """What happened to the rows of one file.

    Invariant once the batches are exhausted (``complete``):
    ``rows_read == rows_accepted + rows_filtered + bad_total``. Blank lines are not rows.

    :param uri: the file.
    :param rows_read: data rows parsed (the header is not a row); a malformed row counts once per
        physical line it spans (see :class:`BadRowKind`).
    :param rows_accepted: rows returned in the batches.
    :param rows_filtered: rows deliberately left out (not an impression, category not selected).
    :param bad_rows: skipped rows by :class:`BadRowKind` value.
    :param samples: up to ``max_samples`` skipped rows, for the logs.
    :param columns: which header each logical column was read from.
    :param empty_file: the file had no header at all (0 bytes or blank); it yields no rows.
    :param complete: the batches have been read to the end; the counts are final.
    """

    uri: str
    rows_read: int = 0
    rows_accepted: int = 0
    rows_filtered: int = 0
    bad_rows: dict[str, int] = field(default_factory=dict)
    samples: list[BadRowSample] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    empty_file: bool = False
    complete: bool = False
    max_samples: int = DEFAULT_MAX_SAMPLES

    @property
    def bad_total(self) -> int:
        """All skipped rows, whatever the kind."""
        return sum(self.bad_rows.values())

    @property
    def bad_fraction(self) -> float:
        """Bad rows among the rows read (0.0 when there are none); see :func:`check_bad_row_fraction`."""
        return self.bad_total / self.rows_read if self.rows_read else 0.0

    @property
    def balanced(self) -> bool:
        """Whether every row read is accounted for."""
        return self.rows_read == self.rows_accepted + self.rows_filtered + self.bad_total

    def add_bad(self, kind: BadRowKind, count: int) -> None:
        """Count ``count`` skipped rows of ``kind``."""
        if count:
            self.bad_rows[kind.value] = self.bad_rows.get(kind.value, 0) + count

    def wants_samples(self) -> int:
        """How many more samples fit."""
        return self.max_samples - len(self.samples)

    def add_sample(self, line: int | None, kind: BadRowKind, reason: str) -> None:
        """Keep one skipped row for the logs, if there is room."""
        if self.wants_samples() > 0:
            self.samples.append(BadRowSample(line, kind.value, reason))

    def summary(self) -> str:
        """One line for the task log."""
        if self.empty_file:
            return f"{self.uri}: empty file (no header), 0 rows"
        bad = ", ".join(f"{kind}={count}" for kind, count in sorted(self.bad_rows.items()))
        text = (
            f"{self.uri}: {self.rows_read} rows read, {self.rows_accepted} accepted, "
            f"{self.rows_filtered} filtered out, {self.bad_total} bad"
        )
        return f"{text} ({bad})" if bad else text


class TooManyBadRowsError(BadInputError, ValueError):
    """The share of bad rows across a run is above the configured maximum."""


@dataclass(frozen=True)
class BadRowBudget:
    """Stop reading a file as soon as the run's bad-row limit can no longer be met.

    Between pieces of the file the reader asks :meth:`check` whether the run could still end at or
    below ``max_fraction`` if every row still to come were good. Rows still to come are bounded by the
    bytes left: the rest of this file holds at most ``(file_bytes - consumed) / min_row_bytes`` good
    rows (a good row has a comma per extra field and a newline), the files after it at most
    ``rows_after``. When even that cannot bring the share down, reading stops with
    :class:`TooManyBadRowsError`: the run would fail anyway, and a file of bad rows (a small ``.gz``
    inflating to gigabytes) costs a few pieces of reading instead of all of it.

    :param max_fraction: ``max_bad_row_fraction``.
    :param bad_before: bad rows of the run's files read before this one.
    :param read_before: rows read from them.
    :param file_bytes: most bytes this file holds decompressed (its size, or its size times
        :data:`MAX_DEFLATE_RATIO` when gzipped; ``inf`` when unknown).
    :param rows_after: most rows the run's later files hold (``inf`` when unknown; 0: no later file).
    :param bad_files: summaries of the files read before this one that have bad rows (named in the error).
    """

    max_fraction: float
    bad_before: int = 0
    read_before: int = 0
    file_bytes: float = math.inf
    rows_after: float = 0.0
    bad_files: tuple[str, ...] = ()

    def check(self, stats: FileStats, consumed: int, min_row_bytes: int) -> None:
        """:param consumed: decompressed bytes of the file already counted in ``stats``.
        :param min_row_bytes: the fewest bytes a good row of this file takes (its number of fields).
        :raises TooManyBadRowsError: when the limit can no longer be met."""
        rows_left = max(self.file_bytes - consumed, 0) / max(min_row_bytes, 1) + self.rows_after
        bad = self.bad_before + stats.bad_total
        read = self.read_before + stats.rows_read
        if bad > self.max_fraction * (read + rows_left):
            raise TooManyBadRowsError(
                f"{stats.uri}: reading stopped after {consumed} bytes: {bad} of the {read} rows read in the "
                f"run so far are bad, and even if every row the run can still hold (at most "
                f"{rows_left:.0f}) were good, more than max_bad_row_fraction={self.max_fraction:.2%} would "
                f"be bad: {'; '.join([stats.summary(), *self.bad_files])}. Nothing was written."
            )


def check_bad_row_fraction(stats: Iterable[FileStats], max_fraction: float) -> float:
    """Enforce ``max_bad_row_fraction`` across the files of a run.

    The fraction is bad rows over rows read, both summed over all files. Rows read, not rows kept after
    filtering: a row with a wrong field count or bytes that are not UTF-8 is counted bad before it can be
    told apart from the rows a filter leaves out, so the only denominator that holds every row the
    numerator can hold is all of them. (In a raw audit-log export where most rows are other events, a
    handful of malformed rows is then a small share, as it should be.)

    :param stats: the files' stats (complete).
    :param max_fraction: the largest acceptable fraction, from 0.0 to 1.0.
    :return: the run's fraction of bad rows.
    :raises TooManyBadRowsError: above ``max_fraction``; the message lists the files with bad rows.
    """
    files = list(stats)
    bad = sum(s.bad_total for s in files)
    read = sum(s.rows_read for s in files)
    fraction = bad / read if read else 0.0
    if fraction > max_fraction:
        worst = sorted((s for s in files if s.bad_total), key=lambda s: -s.bad_total)
        details = "; ".join(s.summary() for s in worst[:10])
        raise TooManyBadRowsError(
            f"{bad} of {read} rows ({fraction:.2%}) were bad, above max_bad_row_fraction="
            f"{max_fraction:.2%}: {details}"
        )
    return fraction
