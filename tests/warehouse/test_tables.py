"""The public tables: names, keys and documentation."""

from __future__ import annotations

import pytest

from airflow_sigma.warehouse import tables
from airflow_sigma.warehouse.tables import ALL_TABLES, COLUMN_TYPES, Column, Table

PUBLIC = {
    "workbooks": ("snapshot_date", "workbook_id"),
    "workbook_elements": ("snapshot_date", "workbook_id", "page_id", "element_id"),
    "members": ("snapshot_date", "member_id"),
    "data_models": ("snapshot_date", "data_model_id"),
    "datasets": ("snapshot_date", "dataset_id"),
    "workbook_sources": ("snapshot_date", "workbook_id", "source_type", "source_id"),
    "element_lineage": ("snapshot_date", "workbook_id", "element_id", "node_id"),
    "teams": ("snapshot_date", "team_id"),
    "team_members": ("snapshot_date", "team_id", "member_id"),
    "workspaces": ("snapshot_date", "workspace_id"),
    "impression_events": ("event_key",),
    "impressions_daily": ("day", "workbook_url_id", "element_id", "user_email"),
    "export_files": ("job", "uri", "etag"),
    "usage": ("as_of", "resource_type", "workbook_url_id", "element_id"),
    "audit_events": ("event_key",),
    "daily_logins": ("day",),
    "daily_event_counts": ("day", "event_type", "event_name", "event_status"),
    "member_activity": ("as_of", "member_id"),
}


def test_public_tables_and_keys() -> None:
    assert {table.base_name: table.key for table in ALL_TABLES} == PUBLIC
    module_tables = {value for value in vars(tables).values() if isinstance(value, Table)}
    assert module_tables == set(ALL_TABLES)


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.base_name)
def test_every_table_and_column_is_documented(table: Table) -> None:
    assert len(table.doc) > 30 and table.doc.endswith("."), table.base_name
    for column in table.columns:
        assert len(column.doc) > 5 and column.doc.endswith((".", ")")), f"{table.base_name}.{column.name}"
        assert column.type in COLUMN_TYPES


def test_public_column_lists() -> None:
    by_name = {table.base_name: table.column_names for table in ALL_TABLES}
    assert by_name["workbooks"] == (
        "snapshot_date", "workbook_id", "workbook_url_id", "name", "path", "workspace", "is_personal", "url",
        "owner_id", "owner_email", "created_at", "updated_at", "latest_version", "is_archived", "created_by",
        "updated_by",
    )  # fmt: skip
    assert by_name["usage"][:4] == ("as_of", "resource_type", "workbook_id", "workbook_url_id")
    assert by_name["audit_events"][-2:] == ("attributes", "source_uri")
    assert by_name["daily_logins"] == ("day", "successful_logins", "failed_logins", "users_logged_in")
    assert by_name["member_activity"] == (
        "as_of", "member_id", "in_catalog", "email", "member_type", "is_archived", "is_inactive",
        "created_at", "last_login_at", "last_impression_at", "logins_30d", "logins_90d", "impressions_30d",
        "impressions_90d", "days_active_30d", "seat_unused",
    )  # fmt: skip


def test_key_columns_are_not_null() -> None:
    for table in ALL_TABLES:
        for name in table.key:
            assert not table.column(name).nullable, f"{table.base_name}.{name}"


def test_definitions_are_validated() -> None:
    with pytest.raises(ValueError, match="lower-case identifier"):
        Column("Bad Name", "text", "doc")
    with pytest.raises(ValueError, match="type 'string' is not one of"):
        Column("c", "string", "doc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"key columns \['nope'\] are not columns"):
        Table("t", (Column("c", "text", "doc"),), ("nope",), "doc")
    with pytest.raises(ValueError, match=r"duplicate columns \['c'\]"):
        Table("t", (Column("c", "text", "doc"), Column("c", "integer", "doc")), (), "doc")
    with pytest.raises(ValueError, match=r"has no column 'x'; columns: \['c'\]"):
        Table("t", (Column("c", "text", "doc"),), (), "doc").column("x")
