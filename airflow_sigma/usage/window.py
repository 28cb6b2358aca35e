"""The older part of the usage summary's windows, kept by the runs themselves.

A summary for ``as_of`` needs, for every workbook and element, the impressions of each window (7, 14,
30 and 60 days, and ``used_window_days``, all ending on ``as_of``), its distinct viewers in the 14 and
30 days, and its last day in the longest window. A run reads only the :data:`RECENT_DAYS` newest days
from ``sigma_impressions_daily`` (the days a daily load may still rebuild); the days before them, up to
``as_of - RECENT_DAYS``, come from three internal tables, complete through the day of the marker row
``('', '')`` of the first (which also holds the ``RECENT_DAYS`` and ``used_window_days`` they were
built for):

- ``sigma_usage_window_totals``: per workbook and element, the impressions of each window's older
  part, and its last day;
- ``sigma_usage_window_viewers``: per workbook, element and viewer, the last day;
- ``sigma_usage_window_days``: per day, workbook and element, the impressions, for the days a window
  will later drop.

Each holds the rows of the longest window only (rows whose last day leaves it are deleted), so its size
follows the content and viewers of one window, not the history. The next day's run brings them forward
by one day: it adds that day (one day of daily rows) and subtracts from each window's totals the day
leaving it (from ``sigma_usage_window_days``, one row per element and day, not per viewer). A run whose
``as_of`` is far ahead, a changed ``used_window_days``, or empty tables refill them from the longest
window once; a run for an ``as_of`` older than them (a backfill after later runs) reads its whole window
from the daily table and leaves them alone. Rebuilding daily rows of a day they cover empties them (see
:func:`forget_window`), and the next run refills them. Daily rows with an empty ``workbook_url_id``
(which the impressions job never writes) are left out of the tables. Daily rows changed by hand (not
by the impressions job) stay counted as they were until their day leaves the windows: empty the
three tables to recount, and the next run refills them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

from airflow_sigma.warehouse import IMPRESSIONS_DAILY, Column, Table, TempTable, Transaction

log = logging.getLogger(__name__)

#: Days read from the daily table by every run; older days of each window come from the state. A daily
#: load with ``days_back=2`` rebuilds the days from ``as_of - 3`` on, which the state (through
#: ``as_of - 4`` before the run) never covers.
RECENT_DAYS = 3
SUMS = ("impressions_7d", "impressions_14d", "impressions_30d", "impressions_60d", "impressions_used")
_URL = Column("workbook_url_id", "text", "URL id of the workbook.", False)
_ELEMENT = Column("element_id", "text", "Element id; '' for the workbook's own impressions.", False)
_LAST_DAY = Column("last_day", "date", "Last day with an impression, in the longest window.", False)
_MARKER = {"workbook_url_id": "", "element_id": ""}
_STATE = "the usage summary's window state (see airflow_sigma.usage.window)"

TOTALS = Table(
    base_name="usage_window_totals",
    doc=f"Internal to the usage summary: per workbook and element, the impressions of each window's days "
    f"up to the day of the row ('', ''); part of {_STATE}.",
    key=("workbook_url_id", "element_id"),
    columns=(
        _URL,
        _ELEMENT,
        _LAST_DAY,
        *(Column(name, "integer", "Impressions of the window's days up to the state's day.", False)
          for name in SUMS),
    ),
)  # fmt: skip
VIEWERS = Table(
    base_name="usage_window_viewers",
    doc=f"Internal to the usage summary: the last day of every viewer of every workbook and element; part "
    f"of {_STATE}.",
    key=("workbook_url_id", "element_id", "user_email"),
    columns=(_URL, _ELEMENT, Column("user_email", "text", "Who viewed it.", False), _LAST_DAY),
)
DAYS = Table(
    base_name="usage_window_days",
    doc=f"Internal to the usage summary: impressions per day, workbook and element; part of {_STATE}.",
    key=("day", "workbook_url_id", "element_id"),
    columns=(
        Column("day", "date", "UTC day.", False),
        _URL,
        _ELEMENT,
        Column("impressions", "integer", "Impressions that day.", False),
    ),
)
TABLES = (TOTALS, VIEWERS, DAYS)

#: The rows a summary aggregates: per workbook and element, the older part's totals (``user_email``
#: NULL); per viewer, their last day (sums 0); and the recent days' rows.
WINDOW_COLUMNS = [
    Column(name, kind, name)  # type: ignore[arg-type]
    for name, kind in (
        ("workbook_url_id", "text"),
        ("element_id", "text"),
        ("user_email", "text"),
        ("last_day", "date"),
        *((name, "integer") for name in SUMS),
    )
]
_TOTALS_COLUMNS = [c for c in WINDOW_COLUMNS if c.name != "user_email"]
_VIEWER_COLUMNS = WINDOW_COLUMNS[:4]


def forget_window(tx: Transaction, days: Sequence[date]) -> None:
    """Empty the window state when it covers one of ``days``, whose daily rows are being rebuilt. The
    caller holds the summary's lock."""
    marker = _marker(tx)
    if marker is not None and days and min(days) <= marker[0]:
        log.info("Daily rows of %s are rebuilt: the usage summary's window state is reset", min(days))
        for table in TABLES:
            tx.execute(f"DELETE FROM {tx.table_name(table)} WHERE 1 = 1")


def _marker(tx: Transaction) -> tuple[date, int, int] | None:
    clause, params = tx.where(TOTALS, _MARKER)
    rows = tx.query(
        f"SELECT last_day, impressions_7d, impressions_used FROM {tx.table_name(TOTALS)} WHERE {clause}",
        params,
        types=["date", "integer", "integer"],
    )
    return rows[0] if rows else None


def create_temp_tables(tx: Transaction) -> list[TempTable]:
    """The temp tables of :class:`WindowRows` (create them before the first write)."""
    return [
        tx.create_temp_table("sigma_usage_window_rows", WINDOW_COLUMNS),
        tx.create_temp_table("sigma_usage_window_added", _VIEWER_COLUMNS),
        tx.create_temp_table("sigma_usage_window_changes", _TOTALS_COLUMNS),
        tx.create_temp_table("sigma_usage_window_merged", _TOTALS_COLUMNS),
    ]


class WindowRows:
    """Fills a temp table with the :data:`WINDOW_COLUMNS` rows whose aggregates per workbook and element
    (sums, distinct non-NULL users by last day, latest last day) are those of the windows ending on
    ``as_of``, over every row of the daily table.

    :param lengths: the windows' lengths in days, in the order of :data:`SUMS`.
    :param temps: the tables of :func:`create_temp_tables`.
    """

    def __init__(self, tx: Transaction, as_of: date, lengths: Sequence[int], temps: Sequence[TempTable]):
        self.tx = tx
        self.p = tx.placeholder
        self.as_of = as_of
        self.lengths = list(lengths)
        self.longest = max(lengths)
        self.first = as_of - timedelta(days=self.longest - 1)
        self.target = as_of - timedelta(days=RECENT_DAYS)
        self.cut = self.first - timedelta(days=1)  # rows whose last day is on or before it are dropped
        # The older part of each window: its days up to the target day (none for a window that short).
        self.older = [max(n - RECENT_DAYS, 0) for n in self.lengths]
        self.result, self.added, self.changes, self.merged = temps
        self.daily = tx.table_name(IMPRESSIONS_DAILY)
        self.totals, self.viewers, self.days = (tx.table_name(t) for t in TABLES)

    def fill(self) -> str:
        """Fill the result table; returns how: ``state``, ``advanced``, ``refilled`` or ``backfill``."""
        marker = _marker(self.tx)
        current = marker is not None and (marker[1], marker[2]) == (RECENT_DAYS, self.lengths[-1])
        through = marker[0] if marker is not None and current else None
        if through is not None and through > self.target:
            self._rows(self.first)
            return "backfill"
        if through == self.target:
            how = "state"
        elif through is not None and (self.target - through).days <= max(self.older) // 4:
            self._advance(through)
            how = "advanced"
        else:
            self._refill()
            how = "refilled"
        self._rows(self.target + timedelta(days=1))
        return how

    def _starts(self) -> list[date]:
        return [self.as_of - timedelta(days=n - 1) for n in self.lengths]

    def _rows(self, start: date) -> None:
        """The daily rows from ``start`` to ``as_of``, and the state's rows when it starts later than the
        window."""
        p, tx, result = self.p, self.tx, self.result.name
        sums = ", ".join(f"CASE WHEN day >= {p} THEN impressions ELSE 0 END" for _ in SUMS)
        tx.execute(
            f"INSERT INTO {result} SELECT workbook_url_id, element_id, user_email, day, {sums} "
            f"FROM {self.daily} WHERE day >= {p} AND day <= {p}",
            [*self._starts(), start, self.as_of],
        )
        if start == self.first:
            return
        not_marker = "NOT (workbook_url_id = '' AND element_id = '')"
        tx.execute(
            f"INSERT INTO {result} SELECT workbook_url_id, element_id, NULL, last_day, {', '.join(SUMS)} "
            f"FROM {self.totals} WHERE last_day > {p} AND {not_marker}",
            [self.cut],
        )
        zeros = ", ".join("0" for _ in SUMS)
        tx.execute(
            f"INSERT INTO {result} SELECT workbook_url_id, element_id, user_email, last_day, {zeros} "
            f"FROM {self.viewers} WHERE last_day > {p}",
            [self.cut],
        )

    def _totals_sql(self, source: str, condition: str) -> str:
        """Per workbook and element of ``source`` (day, workbook_url_id, element_id, impressions): the
        last day and, per window, the impressions of ``condition`` (``{n}``: the window's older
        length); 0 for a window without an older part."""
        sums = ", ".join(
            f"SUM(CASE WHEN {condition.format(n=n)} THEN impressions ELSE 0 END)" if n > 0 else "0"
            for n in self.older
        )
        return (
            f"SELECT workbook_url_id, element_id, MAX(day), {sums} FROM {source} "
            f"GROUP BY workbook_url_id, element_id"
        )

    def _refill(self) -> None:
        """Rebuild the state through the target day from the daily table's days in the longest window."""
        tx, p = self.tx, self.p
        for table in TABLES:
            tx.execute(f"DELETE FROM {tx.table_name(table)} WHERE 1 = 1")
        older_days = f"day > {p} AND day <= {p} AND workbook_url_id <> ''"
        tx.execute(
            f"INSERT INTO {self.days} (day, workbook_url_id, element_id, impressions) "
            f"SELECT day, workbook_url_id, element_id, SUM(impressions) FROM {self.daily} "
            f"WHERE {older_days} GROUP BY day, workbook_url_id, element_id",
            [self.cut, self.target],
        )
        tx.execute(
            f"INSERT INTO {self.viewers} (workbook_url_id, element_id, user_email, last_day) "
            f"SELECT workbook_url_id, element_id, user_email, MAX(day) FROM {self.daily} "
            f"WHERE {older_days} GROUP BY workbook_url_id, element_id, user_email",
            [self.cut, self.target],
        )
        starts = [self.target - timedelta(days=n) for n in self.older if n > 0]
        tx.execute(
            f"INSERT INTO {self.totals} ({', '.join(c.name for c in _TOTALS_COLUMNS)}) "
            + self._totals_sql(self.days, f"day > {p}"),
            starts,
        )
        self._mark()

    def _advance(self, through: date) -> None:
        """Bring the state from ``through`` to the target day: add the days after ``through``; subtract
        from each window the days that left it (``window(t + g) = window(t) + (t, t + g] - (t - n,
        t + g - n]`` for a window of n days, whatever g); drop the rows out of the longest window."""
        tx, p = self.tx, self.p
        added = [through + timedelta(days=i) for i in range(1, (self.target - through).days + 1)]
        clause, params = tx.where(IMPRESSIONS_DAILY, {"day": added})
        new_rows = f"{clause} AND workbook_url_id <> ''"
        tx.execute(
            f"INSERT INTO {self.days} (day, workbook_url_id, element_id, impressions) "
            f"SELECT day, workbook_url_id, element_id, SUM(impressions) FROM {self.daily} "
            f"WHERE {new_rows} GROUP BY day, workbook_url_id, element_id",
            params,
        )
        # The added days are later than every stored last day: their last days replace the stored ones.
        tx.execute(
            f"INSERT INTO {self.added.name} SELECT workbook_url_id, element_id, user_email, MAX(day) "
            f"FROM {self.daily} WHERE {new_rows} GROUP BY workbook_url_id, element_id, user_email",
            params,
        )
        tx.upsert(VIEWERS, self.added)
        days = set(added)
        for n in self.older:
            if n > 0:
                days.update(d - timedelta(days=n) for d in added)
        clause, day_params = tx.where(DAYS, {"day": sorted(days)})
        sums_params: list[object] = []
        for n in self.older:
            if n > 0:
                sums_params += [through, through - timedelta(days=n), self.target - timedelta(days=n)]
        change = f"CASE WHEN day > {p} THEN impressions ELSE 0 END - CASE WHEN day > {p} AND day <= {p}"
        sums = ", ".join(f"SUM({change} THEN impressions ELSE 0 END)" if n > 0 else "0" for n in self.older)
        tx.execute(
            f"INSERT INTO {self.changes.name} SELECT workbook_url_id, element_id, "
            f"MAX(CASE WHEN day > {p} THEN day END), {sums} FROM {self.days} WHERE {clause} "
            f"GROUP BY workbook_url_id, element_id",
            [through, *sums_params, *day_params],
        )
        later = "CASE WHEN t.last_day IS NULL OR c.last_day > t.last_day THEN c.last_day ELSE t.last_day END"
        merged = ", ".join(f"COALESCE(t.{name}, 0) + c.{name}" for name in SUMS)
        tx.execute(
            f"INSERT INTO {self.merged.name} SELECT c.workbook_url_id, c.element_id, {later}, {merged} "
            f"FROM {self.changes.name} c LEFT JOIN {self.totals} t ON t.workbook_url_id = c.workbook_url_id "
            f"AND t.element_id = c.element_id WHERE c.last_day IS NOT NULL OR t.last_day IS NOT NULL"
        )
        tx.upsert(TOTALS, self.merged)
        for table, column in ((self.totals, "last_day"), (self.viewers, "last_day"), (self.days, "day")):
            tx.execute(f"DELETE FROM {table} WHERE {column} <= {p}", [self.cut])
        self._mark()

    def _mark(self) -> None:
        self.tx.delete(TOTALS, _MARKER)
        self.tx.insert_rows(TOTALS, [("", "", self.target, RECENT_DAYS, 0, 0, 0, self.lengths[-1])])
