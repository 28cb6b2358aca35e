"""``sigma_usage``: usage of every workbook and element as of a date, built in SQL from the daily table.

Definitions (all windows are N UTC days ending on ``as_of`` inclusive):

- rows: every workbook and element of the latest catalog snapshot on or before ``as_of``
  (``discovered`` true), plus every workbook and element with impressions in the 60 days ending on
  ``as_of`` that is not in that snapshot (``discovered`` false: deleted, renamed ids, or not visible to
  the catalog's credentials). Catalog rows without a ``workbook_url_id`` cannot be matched to
  impressions and are left out (counted in the summary).
- ``impressions_Nd``: the resource's own impressions (for a workbook, workbook-level rows only);
  ``element_impressions_30d``: for a workbook, the sum over its elements, for an element its own.
- ``unique_users_Nd``, ``last_impression_at``: for a workbook, over its own and its elements'
  impressions (viewing an element is viewing its workbook); for an element, its own.
- ``last_impression_at``: 00:00 UTC of the last day with an impression on or before ``as_of``, from
  the daily table (kept forever), so it is known for any ``as_of`` however old; the time of day is
  not kept. ``days_since_last_impression`` counts whole days from that day to ``as_of``.
- ``used``: impressions (a workbook's own plus its elements') in the ``used_window_days`` ending on
  ``as_of`` >= ``used_min_impressions``; never-viewed content is not used.
- ``owner_active``: the workbook's owner (``owner_id``) in the ``sigma_members`` rows of the same
  snapshot: false when archived or inactive, true when neither, NULL when unknown; an element row
  has its workbook's.
- data models (``resource_type = 'data_model'``, one row per data model of the snapshot; its url id in
  ``workbook_url_id``, its id in ``workbook_id``): the usage of the catalogued workbooks that use it
  (``sigma_workbook_sources``): impressions and ``element_impressions_30d`` summed over those workbooks'
  rows, distinct users over all their impressions, the latest ``last_impression_at``, and ``used``
  when at least one of them is used. A data model no workbook uses is not used.

**Cost.** A run reads only the newest days of the daily table (``RECENT_DAYS``), whatever the
history and the windows: the older part of every window comes from the ``sigma_usage_window_*``
tables (totals per workbook and element, last days per viewer, totals per day), which each daily
run brings forward by one day, adding that day and subtracting the days that leave the windows (see
:mod:`airflow_sigma.usage.window`). Last
impressions before the longest window (60 days, or ``used_window_days`` when longer) come from
``sigma_usage_last_seen``, the last day of every workbook and element seen, complete through the day
its row ``('', '')`` holds. Each run folds in the days between that day and its window (one day for a
daily run), so the table grows with the content ever viewed, not with the days. A run for an
``as_of`` older than either table (a backfill after later runs) reads the daily table's days itself,
and leaves the tables alone. Rebuilding daily rows of a day a table covers empties it (the window
state: a day before the recent days, which a daily load with ``days_back`` up to 2 never does;
``sigma_usage_last_seen``: a day before the longest window, only with ``event_retention_days`` above
60), and the next run refills it once. Last impressions survive rows deleted from
``sigma_impressions_daily`` by hand; drop ``sigma_usage_last_seen`` too to forget them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from airflow_sigma.loading.settings import TaskLog, check_positive_int
from airflow_sigma.loading.sql import index_temp_table
from airflow_sigma.storage.window import as_utc
from airflow_sigma.usage.window import SUMS, WindowRows, create_temp_tables, forget_window
from airflow_sigma.usage.window import TABLES as WINDOW_TABLES
from airflow_sigma.warehouse import (
    IMPRESSIONS_DAILY,
    MEMBERS,
    USAGE,
    WORKBOOK_ELEMENTS,
    WORKBOOKS,
    Column,
    Table,
    Transaction,
    Warehouse,
)
from airflow_sigma.warehouse.retention import DEFAULT_KEEP_USAGE_DATES, check_keep, keep_newest
from airflow_sigma.warehouse.tables import DATA_MODELS, WORKBOOK_SOURCES

log = logging.getLogger(__name__)

WINDOWS = (7, 14, 30, 60)


def last_full_day(data_interval_end: datetime) -> date:
    """The last UTC day that ends on or before ``data_interval_end``: the usage ``as_of`` of a run."""
    return as_utc(data_interval_end).date() - timedelta(days=1)


def _columns(spec: str) -> list[Column]:
    kinds = {"t": "text", "i": "integer", "d": "date"}
    return [Column(name, kinds[kind], name) for name, kind in (part.split(":") for part in spec.split())]  # type: ignore[arg-type]


LAST_SEEN = Table(
    base_name="usage_last_seen",
    doc="Internal to the usage summary: the last day with an impression of every workbook and element "
    "seen, complete through the last_day of the row ('', '') (see airflow_sigma.usage.summary).",
    key=("workbook_url_id", "element_id"),
    columns=(
        Column("workbook_url_id", "text", "URL id of the workbook; '' in the completeness row.", False),
        Column("element_id", "text", "Element id; '' for the workbook's own impressions.", False),
        Column(
            "last_day", "date", "Last day with an impression (the completeness row: complete through).", False
        ),
    ),
)
_THROUGH = {"workbook_url_id": "", "element_id": ""}
_LAST_DAYS = _columns("workbook_url_id:t element_id:t last_day:d")
_WORKBOOK_LAST_DAYS = _columns("workbook_url_id:t last_day:d")

_RESOURCE_AGG = _columns(
    "workbook_url_id:t element_id:t i7:i i14:i i30:i i60:i iused:i u14:i u30:i last_day:d"
)
_WORKBOOK_AGG = _columns("workbook_url_id:t el30:i iused:i i60:i u14:i u30:i last_day:d")
_CATALOG_WORKBOOKS = _columns("workbook_url_id:t workbook_id:t name:t path:t owner_email:t owner_active:i")
_CATALOG_ELEMENTS = _columns("workbook_url_id:t element_id:t workbook_id:t name:t")
_MODEL_WORKBOOKS = _columns("data_model_id:t workbook_url_id:t")
_MODEL_USERS = _columns("data_model_id:t u14:i u30:i")
_DATA_MODEL_COLUMNS = (
    "as_of", "resource_type", "workbook_id", "workbook_url_id", "element_id", "name", "path", "owner_email",
    "discovered", "impressions_7d", "impressions_14d", "impressions_30d", "impressions_60d",
    "element_impressions_30d", "unique_users_14d", "unique_users_30d", "last_impression_at",
    "days_since_last_impression", "used",
)  # fmt: skip


_WINDOW_USE = {
    "state": "current",
    "advanced": "brought forward",
    "refilled": "filled from the window's days",
    "backfill": "newer than as_of, left alone (the window read from the daily table)",
}


@dataclass(frozen=True)
class UsageSettings:
    """When content counts as used.

    :param used_window_days: the window (days ending on as_of) whose impressions count.
    :param used_min_impressions: the fewest impressions in that window for ``used``.
    """

    used_window_days: int = 30
    used_min_impressions: int = 1

    def __post_init__(self) -> None:
        check_positive_int("used_window_days", self.used_window_days)
        check_positive_int("used_min_impressions", self.used_min_impressions)


def build_usage_summary(
    warehouse: Warehouse,
    as_of: date,
    settings: UsageSettings | None = None,
    *,
    keep_dates: int | None = DEFAULT_KEEP_USAGE_DATES,
    logger: TaskLog | None = None,
) -> dict[str, Any]:
    """Replace the ``as_of`` rows of ``sigma_usage`` in one transaction (see the module docs), then
    delete the rows of dates older than the ``keep_dates`` newest ``as_of`` dates.

    :param keep_dates: how many ``as_of`` dates to keep (the newest); None keeps them all.
    :return: counts for the log and XCom.
    """
    settings = settings or UsageSettings()
    keep_dates = check_keep("keep_dates", keep_dates)
    logger = logger or log
    with warehouse.transaction() as tx:
        tx.lock(USAGE)
        tx.ensure_tables(
            WORKBOOKS,
            WORKBOOK_ELEMENTS,
            MEMBERS,
            IMPRESSIONS_DAILY,
            USAGE,
            LAST_SEEN,
            *WINDOW_TABLES,
            DATA_MODELS,
            WORKBOOK_SOURCES,
        )
        snapshot = tx.query(
            f"SELECT MAX(snapshot_date) FROM {tx.table_name(WORKBOOKS)} "
            f"WHERE snapshot_date <= {tx.placeholder}",
            [as_of],
            types=["date"],
        )[0][0]
        if snapshot is None:
            logger.warning(
                "No catalog snapshot on or before %s: has the discovery job run? Every resource is "
                "marked discovered = false.",
                as_of,
            )
        query = _UsageQueries(tx, as_of, settings)
        skipped = query.stage(snapshot)
        logger.info("Usage as of %s: window state %s.", as_of, _WINDOW_USE[query.window])
        tx.delete(USAGE, {"as_of": as_of})
        query.insert_rows()
        query.insert_data_model_rows(snapshot)
        counts = tx.query(
            f"SELECT resource_type, discovered, used, COUNT(*) FROM {tx.table_name(USAGE)} "
            f"WHERE as_of = {tx.placeholder} GROUP BY resource_type, discovered, used",
            [as_of],
            types=["text", "boolean", "boolean", "integer"],
        )
        oldest = keep_newest(tx, (USAGE,), "as_of", keep_dates)
    if oldest is not None and as_of < oldest:
        logger.warning(
            "as_of %s is older than the %d newest dates of sigma_usage kept (keep_usage_dates): its rows "
            "were removed again",
            as_of,
            keep_dates,
        )
    summary: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "snapshot_date": snapshot.isoformat() if snapshot else None,
        "catalog_rows_without_url_id": skipped,
    }
    for kind in ("workbook", "element", "data_model"):
        rows = [c for c in counts if c[0] == kind]
        summary[f"{kind}s"] = sum(c[3] for c in rows)
        summary[f"{kind}s_used"] = sum(c[3] for c in rows if c[2])
        summary[f"{kind}s_undiscovered"] = sum(c[3] for c in rows if not c[1])
    return summary


def forget_last_seen(tx: Transaction, days: Sequence[date]) -> None:
    """Empty ``sigma_usage_last_seen`` and the window state when they cover one of ``days``, whose
    daily rows are being rebuilt (they are refilled by the next summary). Takes the summary's lock, so
    no summary folds in the days while they change."""
    if not days:
        return
    tx.lock(USAGE)
    forget_window(tx, days)
    through = _through(tx)
    if through is not None and min(days) <= through:
        log.info("Daily rows of %s are rebuilt: the usage summary's last-seen days are reset", min(days))
        tx.execute(f"DELETE FROM {tx.table_name(LAST_SEEN)}")


def _through(tx: Transaction) -> date | None:
    clause, params = tx.where(LAST_SEEN, _THROUGH)
    rows = tx.query(f"SELECT last_day FROM {tx.table_name(LAST_SEEN)} WHERE {clause}", params, types=["date"])
    return rows[0][0] if rows else None


class _UsageQueries:
    def __init__(self, tx: Transaction, as_of: date, settings: UsageSettings) -> None:
        self.tx = tx
        self.as_of = as_of
        self.settings = settings
        self.p = tx.placeholder
        self.first = self._start(max(WINDOWS[-1], settings.used_window_days))

    def _start(self, days: int) -> date:
        return self.as_of - timedelta(days=days - 1)

    def stage(self, snapshot: date | None) -> int:
        """Aggregate the daily table over the longest window, the last days before it, and the catalog
        snapshot into temp tables; returns the number of catalog rows left out for lacking a
        workbook_url_id."""
        tx, p = self.tx, self.p
        # Every temp table before the first write (DDL commits the transaction on Snowflake).
        self.resources = tx.create_temp_table("sigma_usage_resources", _RESOURCE_AGG)
        self.workbooks = tx.create_temp_table("sigma_usage_workbooks", _WORKBOOK_AGG)
        self.older_workbooks = tx.create_temp_table("sigma_usage_older_workbooks", _WORKBOOK_LAST_DAYS)
        self.catalog_workbooks = tx.create_temp_table("sigma_usage_catalog_workbooks", _CATALOG_WORKBOOKS)
        self.catalog_elements = tx.create_temp_table("sigma_usage_catalog_elements", _CATALOG_ELEMENTS)
        self.older_days = tx.create_temp_table("sigma_usage_older", _LAST_DAYS)
        self.seen_days = tx.create_temp_table("sigma_usage_seen", _LAST_DAYS)
        self.model_workbooks = tx.create_temp_table("sigma_usage_model_workbooks", _MODEL_WORKBOOKS)
        self.model_users = tx.create_temp_table("sigma_usage_model_users", _MODEL_USERS)
        temps = create_temp_tables(tx)
        self.rows = temps[0].name
        lengths = [*WINDOWS, self.settings.used_window_days]
        self.window = WindowRows(tx, self.as_of, lengths, temps).fill()
        start14, start30 = self._start(14), self._start(30)
        users = ", ".join(f"COUNT(DISTINCT CASE WHEN last_day >= {p} THEN user_email END)" for _ in range(2))
        tx.execute(
            f"INSERT INTO {self.resources.name} SELECT workbook_url_id, element_id, "
            f"{', '.join(f'SUM({name})' for name in SUMS)}, {users}, MAX(last_day) "
            f"FROM {self.rows} GROUP BY workbook_url_id, element_id",
            [start14, start30],
        )
        index_temp_table(tx, self.resources, ["workbook_url_id", "element_id"])
        tx.execute(
            f"INSERT INTO {self.workbooks.name} SELECT workbook_url_id, "
            f"SUM(CASE WHEN element_id <> '' THEN impressions_30d ELSE 0 END), SUM(impressions_used), "
            f"SUM(impressions_60d), {users}, MAX(last_day) FROM {self.rows} GROUP BY workbook_url_id",
            [start14, start30],
        )
        index_temp_table(tx, self.workbooks, ["workbook_url_id"])
        self.older = self._last_days_before_window()
        tx.execute(
            f"INSERT INTO {self.older_workbooks.name} SELECT workbook_url_id, MAX(last_day) "
            f"FROM {self.older} WHERE workbook_url_id <> '' GROUP BY workbook_url_id"
        )
        index_temp_table(tx, self.older_workbooks, ["workbook_url_id"])
        if snapshot is None:
            return 0
        workbooks, elements = tx.table_name(WORKBOOKS), tx.table_name(WORKBOOK_ELEMENTS)
        has_url = "workbook_url_id IS NOT NULL AND workbook_url_id <> ''"
        left = "m.is_archived OR m.is_inactive"
        owner_active = f"CASE WHEN {left} THEN 0 WHEN NOT ({left}) THEN 1 END"  # NULL when unknown
        tx.execute(
            f"INSERT INTO {self.catalog_workbooks.name} SELECT w.workbook_url_id, MIN(w.workbook_id), "
            f"MIN(w.name), MIN(w.path), MIN(w.owner_email), MIN({owner_active}) FROM {workbooks} w "
            f"LEFT JOIN {tx.table_name(MEMBERS)} m ON m.snapshot_date = w.snapshot_date "
            f"AND m.member_id = w.owner_id WHERE w.snapshot_date = {p} "
            f"AND w.workbook_url_id IS NOT NULL AND w.workbook_url_id <> '' "
            f"GROUP BY w.workbook_url_id",
            [snapshot],
        )
        index_temp_table(tx, self.catalog_workbooks, ["workbook_url_id"])
        url_id = "COALESCE(NULLIF(e.workbook_url_id, ''), w.workbook_url_id)"
        tx.execute(
            f"INSERT INTO {self.catalog_elements.name} SELECT {url_id}, e.element_id, MIN(e.workbook_id), "
            f"MIN(e.name) FROM {elements} e LEFT JOIN {workbooks} w ON w.snapshot_date = e.snapshot_date "
            f"AND w.workbook_id = e.workbook_id WHERE e.snapshot_date = {p} AND {url_id} IS NOT NULL "
            f"AND {url_id} <> '' GROUP BY {url_id}, e.element_id",
            [snapshot],
        )
        index_temp_table(tx, self.catalog_elements, ["workbook_url_id", "element_id"])
        missing = tx.query(
            f"SELECT (SELECT COUNT(*) FROM {workbooks} WHERE snapshot_date = {p} AND NOT ({has_url})) + "
            f"(SELECT COUNT(*) FROM {elements} e LEFT JOIN {workbooks} w "
            f"ON w.snapshot_date = e.snapshot_date AND w.workbook_id = e.workbook_id "
            f"WHERE e.snapshot_date = {p} "
            f"AND ({url_id} IS NULL OR {url_id} = ''))",
            [snapshot, snapshot],
        )
        return int(missing[0][0] or 0)

    def _last_days_before_window(self) -> str:
        """A table of (workbook_url_id, element_id, last_day) complete through a day at most ``as_of``
        and at least the day before the window (see the module docs): ``sigma_usage_last_seen``, first
        brought up to the day before the window when it is behind; for an ``as_of`` older than it, a
        temp table of the daily table's days before the window."""
        tx, p = self.tx, self.p
        daily, state = tx.table_name(IMPRESSIONS_DAILY), tx.table_name(LAST_SEEN)
        before = self.first - timedelta(days=1)
        through = _through(tx)
        last_days = (
            f"SELECT workbook_url_id, element_id, MAX(day) FROM {daily} WHERE workbook_url_id <> '' AND "
        )
        grouped = " GROUP BY workbook_url_id, element_id"
        if through is not None and through > self.as_of:
            older = self.older_days
            tx.execute(f"INSERT INTO {older.name} {last_days}day <= {p}{grouped}", [before])
            index_temp_table(tx, older, ["workbook_url_id", "element_id"])
            return older.name
        if through is not None and through >= before:
            return state
        if through is None:
            tx.execute(f"DELETE FROM {state}")
        added = self.seen_days
        since = "" if through is None else f"day > {p} AND "
        tx.execute(
            f"INSERT INTO {added.name} {last_days}{since}day <= {p}{grouped}",
            [before] if through is None else [through, before],
        )
        tx.upsert(LAST_SEEN, added)  # the added days are all later than the stored ones
        tx.delete(LAST_SEEN, _THROUGH)
        tx.insert_rows(LAST_SEEN, [("", "", before)])
        return state

    def insert_rows(self) -> None:
        """Insert the four kinds of rows: discovered and undiscovered workbooks and elements."""
        tx, p, d = self.tx, self.p, self.tx.dialect
        as_of = d.from_text(p, "date")

        def tail(last: str, used: str) -> str:
            return (
                f"{d.start_of_day(last)}, {d.days_between(as_of, last)}, "
                f"CASE WHEN COALESCE({used}.iused, 0) >= {p} THEN TRUE ELSE FALSE END"
            )

        def latest(window: str, older: str) -> str:
            return f"CASE WHEN {older} IS NULL OR {window} > {older} THEN {window} ELSE {older} END"

        counts = "COALESCE(r.i7, 0), COALESCE(r.i14, 0), COALESCE(r.i30, 0), COALESCE(r.i60, 0)"
        target = f"INSERT INTO {tx.table_name(USAGE)} ({', '.join(USAGE.column_names)}) "
        minimum = self.settings.used_min_impressions
        cw, ce = self.catalog_workbooks.name, self.catalog_elements.name
        res, wbs = self.resources.name, self.workbooks.name
        workbook_counts = f"{counts}, COALESCE(w.el30, 0), COALESCE(w.u14, 0), COALESCE(w.u30, 0)"
        element_counts = f"{counts}, COALESCE(r.i30, 0), COALESCE(r.u14, 0), COALESCE(r.u30, 0)"
        own_row = "r.workbook_url_id = {0}.workbook_url_id AND r.element_id = ''"
        owner_active = ", CASE WHEN c.owner_active = 1 THEN TRUE WHEN c.owner_active = 0 THEN FALSE END"
        statements = [
            f"SELECT {as_of}, 'workbook', c.workbook_id, c.workbook_url_id, '', c.name, c.path, "
            f"c.owner_email, TRUE, {workbook_counts}, {tail(latest('w.last_day', 'o.last_day'), 'w')}"
            f"{owner_active} FROM {cw} c LEFT JOIN {res} r ON {own_row.format('c')} "
            f"LEFT JOIN {wbs} w ON w.workbook_url_id = c.workbook_url_id "
            f"LEFT JOIN {self.older_workbooks.name} o ON o.workbook_url_id = c.workbook_url_id",
            f"SELECT {as_of}, 'workbook', NULL, w.workbook_url_id, '', NULL, NULL, NULL, FALSE, "
            f"{workbook_counts}, {tail('w.last_day', 'w')}, NULL FROM {wbs} w LEFT JOIN {res} r "
            f"ON {own_row.format('w')} WHERE w.i60 > 0 "
            f"AND NOT EXISTS (SELECT 1 FROM {cw} c WHERE c.workbook_url_id = w.workbook_url_id)",
            f"SELECT {as_of}, 'element', e.workbook_id, e.workbook_url_id, e.element_id, e.name, c.path, "
            f"c.owner_email, TRUE, {element_counts}, {tail(latest('r.last_day', 'o.last_day'), 'r')}"
            f"{owner_active} FROM {ce} e LEFT JOIN {cw} c ON c.workbook_url_id = e.workbook_url_id "
            f"LEFT JOIN {res} r "
            f"ON r.workbook_url_id = e.workbook_url_id AND r.element_id = e.element_id "
            f"LEFT JOIN {self.older} o "
            f"ON o.workbook_url_id = e.workbook_url_id AND o.element_id = e.element_id",
            f"SELECT {as_of}, 'element', c.workbook_id, r.workbook_url_id, r.element_id, NULL, c.path, "
            f"c.owner_email, FALSE, {element_counts}, {tail('r.last_day', 'r')}{owner_active} FROM {res} r "
            f"LEFT JOIN {cw} c ON c.workbook_url_id = r.workbook_url_id "
            f"WHERE r.element_id <> '' AND r.i60 > 0 "
            f"AND NOT EXISTS (SELECT 1 FROM {ce} e WHERE e.workbook_url_id = r.workbook_url_id "
            f"AND e.element_id = r.element_id)",
        ]
        for select in statements:
            tx.execute(target + select, [self.as_of, self.as_of, minimum])

    def insert_data_model_rows(self, snapshot: date | None) -> None:
        """Insert one row per data model of ``snapshot``, from the workbook rows already inserted."""
        if snapshot is None:
            return
        tx, p = self.tx, self.p
        models, sources = tx.table_name(DATA_MODELS), tx.table_name(WORKBOOK_SOURCES)
        workbooks, usage = tx.table_name(WORKBOOKS), tx.table_name(USAGE)
        links = self.model_workbooks
        tx.execute(
            f"INSERT INTO {links.name} SELECT DISTINCT s.source_id, w.workbook_url_id FROM {sources} s "
            f"JOIN {workbooks} w ON w.snapshot_date = s.snapshot_date AND w.workbook_id = s.workbook_id "
            f"WHERE s.snapshot_date = {p} AND s.source_type = 'data-model' "
            f"AND w.workbook_url_id IS NOT NULL AND w.workbook_url_id <> ''",
            [snapshot],
        )
        users = self.model_users
        distinct = ", ".join(
            f"COUNT(DISTINCT CASE WHEN t.last_day >= {p} THEN t.user_email END)" for _ in range(2)
        )
        tx.execute(
            f"INSERT INTO {users.name} SELECT l.data_model_id, {distinct} FROM {links.name} l "
            f"JOIN {self.rows} t ON t.workbook_url_id = l.workbook_url_id "
            f"GROUP BY l.data_model_id",
            [self._start(14), self._start(30)],
        )
        sums = ", ".join(
            f"COALESCE(SUM(u.{name}), 0)"
            for name in ("impressions_7d", "impressions_14d", "impressions_30d", "impressions_60d",
                         "element_impressions_30d")
        )  # fmt: skip
        tx.execute(
            f"INSERT INTO {usage} ({', '.join(_DATA_MODEL_COLUMNS)}) "
            f"SELECT {tx.dialect.from_text(p, 'date')}, 'data_model', m.data_model_id, "
            f"COALESCE(m.data_model_url_id, m.data_model_id), '', m.name, m.path, m.owner_email, TRUE, "
            f"{sums}, "
            f"COALESCE(MAX(a.u14), 0), COALESCE(MAX(a.u30), 0), MAX(u.last_impression_at), "
            f"MIN(u.days_since_last_impression), "
            f"CASE WHEN MAX(CASE WHEN u.used THEN 1 ELSE 0 END) = 1 THEN TRUE ELSE FALSE END "
            f"FROM {models} m LEFT JOIN {links.name} l ON l.data_model_id = m.data_model_id "
            f"LEFT JOIN {usage} u ON u.as_of = {p} AND u.resource_type = 'workbook' "
            f"AND u.workbook_url_id = l.workbook_url_id "
            f"LEFT JOIN {users.name} a ON a.data_model_id = m.data_model_id "
            f"WHERE m.snapshot_date = {p} "
            f"GROUP BY m.data_model_id, m.data_model_url_id, m.name, m.path, m.owner_email",
            [self.as_of, self.as_of, snapshot],
        )
