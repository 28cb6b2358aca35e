"""Write a :class:`Catalog` to the warehouse: one transaction replaces one snapshot date in every table
the run discovered (a part switched off leaves its table as it is)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from airflow_sigma.catalog.model import Catalog
from airflow_sigma.catalog.parts import (
    DataModelRow,
    DatasetRow,
    LineageRow,
    SourceRow,
    TeamMemberRow,
    TeamRow,
    WorkspaceRow,
)
from airflow_sigma.catalog.rows import ElementRow, MemberRow, WorkbookRow
from airflow_sigma.warehouse import MEMBERS, WORKBOOK_ELEMENTS, WORKBOOKS, Table, Warehouse
from airflow_sigma.warehouse.retention import DEFAULT_KEEP_SNAPSHOTS, check_keep, keep_newest
from airflow_sigma.warehouse.tables import (
    DATA_MODELS,
    DATASETS,
    ELEMENT_LINEAGE,
    TEAM_MEMBERS,
    TEAMS,
    WORKBOOK_SOURCES,
    WORKSPACES,
)

log = logging.getLogger(__name__)

CATALOG_TABLES: tuple[Table, ...] = (
    WORKBOOKS,
    WORKBOOK_ELEMENTS,
    MEMBERS,
    DATA_MODELS,
    DATASETS,
    WORKBOOK_SOURCES,
    ELEMENT_LINEAGE,
    TEAMS,
    TEAM_MEMBERS,
    WORKSPACES,
)
_ROW_FIELDS: dict[str, tuple[str, ...]] = {
    WORKBOOKS.base_name: WorkbookRow._fields,
    WORKBOOK_ELEMENTS.base_name: ElementRow._fields,
    MEMBERS.base_name: MemberRow._fields,
    DATA_MODELS.base_name: DataModelRow._fields,
    DATASETS.base_name: DatasetRow._fields,
    WORKBOOK_SOURCES.base_name: SourceRow._fields,
    ELEMENT_LINEAGE.base_name: LineageRow._fields,
    TEAMS.base_name: TeamRow._fields,
    TEAM_MEMBERS.base_name: TeamMemberRow._fields,
    WORKSPACES.base_name: WorkspaceRow._fields,
}


def write_catalog(
    warehouse: Warehouse,
    catalog: Catalog,
    snapshot_date: date,
    keep_snapshots: int | None = DEFAULT_KEEP_SNAPSHOTS,
) -> dict[str, int]:
    """Create the catalog tables when missing and replace their ``snapshot_date`` rows, atomically;
    then delete, in the tables written, the snapshots older than the ``keep_snapshots`` newest (of
    ``sigma_workbooks``), in the same transaction.

    Tables of parts the catalog was not discovered with (``None`` in ``catalog.parts``) are not touched.

    Re-running with the same date and catalog gives identical tables; when anything fails, the
    transaction rolls back and every table keeps its previous state.

    :param warehouse: where the tables live.
    :param catalog: the rows to store.
    :param snapshot_date: the snapshot the rows belong to.
    :param keep_snapshots: how many snapshot dates to keep (the newest); None keeps them all.
    :return: rows written per table name (e.g. ``{"sigma_workbooks": 1000, ...}``).
    """
    keep_snapshots = check_keep("keep_snapshots", keep_snapshots)
    extra = catalog.parts
    optional: list[tuple[Table, Sequence[tuple[Any, ...]] | None]] = [
        (DATA_MODELS, extra.data_models),
        (DATASETS, extra.datasets),
        (WORKBOOK_SOURCES, extra.sources),
        (ELEMENT_LINEAGE, extra.lineage),
        (TEAMS, extra.teams),
        (TEAM_MEMBERS, extra.team_members),
        (WORKSPACES, extra.workspaces),
    ]
    parts: list[tuple[Table, Sequence[tuple[Any, ...]]]] = [
        (WORKBOOKS, catalog.workbooks),
        (WORKBOOK_ELEMENTS, catalog.elements),
        (MEMBERS, catalog.members),
        *((table, rows) for table, rows in optional if rows is not None),
    ]
    written: dict[str, int] = {}
    with warehouse.transaction() as tx:
        tx.lock(WORKBOOKS)
        tx.ensure_tables(*(table for table, _ in parts))
        for table, rows in parts:
            columns = ("snapshot_date", *_ROW_FIELDS[table.base_name])
            count = tx.replace_partition(
                table, {"snapshot_date": snapshot_date}, _dated(snapshot_date, rows), columns
            )
            written[warehouse.unqualified_name(table)] = count
        oldest = keep_newest(tx, tuple(table for table, _ in parts), "snapshot_date", keep_snapshots)
    if oldest is not None and snapshot_date < oldest:
        log.warning(
            "Snapshot %s is older than the %d newest snapshots kept (keep_snapshots): it was removed again",
            snapshot_date.isoformat(),
            keep_snapshots,
        )
    log.info(
        "Stored the Sigma catalog of %s in %s: %s",
        snapshot_date.isoformat(),
        warehouse,
        ", ".join(f"{name} {count} rows" for name, count in written.items()),
    )
    return written


def _dated(snapshot_date: date, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield (snapshot_date, *row)
