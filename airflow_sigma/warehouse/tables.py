"""The public warehouse tables, defined as data.

Table and column names are public: people query and chart them. Every table gets the warehouse's
``table_prefix`` (default ``"sigma_"``) in front of its ``base_name``, so ``WORKBOOKS`` is
``sigma_workbooks`` by default.

Conventions shared by all tables:

- ``date`` columns hold calendar dates in UTC; ``timestamp`` columns hold UTC instants.
- Key columns are never NULL. Where "no value" is meaningful in a key (for example a workbook-level row
  that has no element), the column holds the empty string ``''``.
- Snapshot tables (workbooks, elements, members) keep one full copy of the catalog per
  ``snapshot_date``; a run replaces exactly its own snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

ColumnType = Literal["text", "integer", "float", "boolean", "date", "timestamp", "json"]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    """One column: its name, portable type, documentation, and whether it may be NULL.

    :param name: lower-case SQL identifier.
    :param type: one of ``text``, ``integer`` (64-bit), ``float``, ``boolean``, ``date``, ``timestamp``
        (UTC) or ``json``.
    :param doc: what the column means, for users reading the docs.
    :param nullable: False adds ``NOT NULL``; key columns are always ``NOT NULL``.
    """

    name: str
    type: ColumnType
    doc: str
    nullable: bool = True

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"column name {self.name!r} must be a lower-case identifier ([a-z_][a-z0-9_]*)")
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} is not one of {COLUMN_TYPES}")


@dataclass(frozen=True)
class Table:
    """A table: base name (without prefix), columns in order, primary key, and documentation.

    :param base_name: the name without the warehouse's ``table_prefix``.
    :param columns: the columns, in table order.
    :param key: the primary key columns; empty for key-less (staging) tables.
    :param doc: what one row means and how the table is maintained.
    """

    base_name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.base_name):
            raise ValueError(f"table name {self.base_name!r} must be a lower-case identifier")
        names = [column.name for column in self.columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"table {self.base_name!r}: duplicate columns {duplicates}")
        unknown = [name for name in self.key if name not in names]
        if unknown:
            raise ValueError(f"table {self.base_name!r}: key columns {unknown} are not columns")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``; ValueError naming the table's columns when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise ValueError(
            f"table {self.base_name!r} has no column {name!r}; columns: {list(self.column_names)}"
        )

    def select(self, names: Sequence[str] | None) -> tuple[Column, ...]:
        """The columns called ``names`` in that order (all columns when None)."""
        if names is None:
            return self.columns
        return tuple(self.column(name) for name in names)


def _snapshot_date(what: str) -> Column:
    return Column(
        "snapshot_date", "date", f"Date (UTC) of the catalog snapshot this {what} belongs to.", False
    )


WORKBOOKS = Table(
    base_name="workbooks",
    doc="One row per workbook seen by the catalog job, per snapshot date. A run replaces its own "
    "snapshot_date; earlier snapshots are kept so the catalog can be compared over time.",
    key=("snapshot_date", "workbook_id"),
    columns=(
        _snapshot_date("workbook row"),
        Column("workbook_id", "text", "Sigma's workbook id (a UUID, `workbookId` in the API).", False),
        Column(
            "workbook_url_id",
            "text",
            "The id at the end of the workbook's URL (`workbookUrlId`); impressions name workbooks by it.",
        ),
        Column("name", "text", "Workbook name."),
        Column("path", "text", "Folder path of the workbook, from the workspace down (`path` in the API)."),
        Column("workspace", "text", "Workspace the workbook lives in; 'My Documents' for personal content."),
        Column("is_personal", "boolean", "True when the workbook is in a user's personal 'My Documents'."),
        Column("url", "text", "Link that opens the workbook in Sigma."),
        Column(
            "owner_id",
            "text",
            "Member id of the workbook's owner (`ownerId`); when Sigma's entry has none, its creator "
            "(`createdBy`), else its last editor (`updatedBy`).",
        ),
        Column("owner_email", "text", "Email of the owner, from the members list; NULL when unknown."),
        Column("created_at", "timestamp", "When the workbook was created (UTC)."),
        Column("updated_at", "timestamp", "When the workbook was last updated (UTC)."),
        Column("latest_version", "integer", "Latest saved version number of the workbook."),
        Column("is_archived", "boolean", "True when the workbook is archived (in the trash)."),
        Column("created_by", "text", "Member id of the workbook's creator (`createdBy`)."),
        Column("updated_by", "text", "Member id of the workbook's last editor (`updatedBy`)."),
    ),
)

WORKBOOK_ELEMENTS = Table(
    base_name="workbook_elements",
    doc="One row per element (table, chart, control, ...) of each workbook page, per snapshot date.",
    key=("snapshot_date", "workbook_id", "page_id", "element_id"),
    columns=(
        _snapshot_date("element row"),
        Column("workbook_id", "text", "Id (UUID) of the workbook that holds the element.", False),
        Column("workbook_url_id", "text", "URL id of the workbook; joins to impressions."),
        Column("page_id", "text", "Id of the workbook page that holds the element.", False),
        Column("page_name", "text", "Name of that page."),
        Column("element_id", "text", "Element id (`elementId`); impressions of elements refer to it.", False),
        Column("name", "text", "Element name (title), when it has one."),
        Column("type", "text", "Element type reported by Sigma, e.g. 'table', 'visualization', 'control'."),
        Column("visualization_type", "text", "Chart kind for visualizations (e.g. 'bar'); NULL otherwise."),
        Column("column_count", "integer", "Number of columns of the element, when Sigma reports them."),
    ),
)

MEMBERS = Table(
    base_name="members",
    doc="One row per Sigma organisation member, per snapshot date (used to turn owner and viewer ids "
    "into emails).",
    key=("snapshot_date", "member_id"),
    columns=(
        _snapshot_date("member row"),
        Column("member_id", "text", "Sigma member id (`memberId`).", False),
        Column("email", "text", "Member's email address."),
        Column("first_name", "text", "First name."),
        Column("last_name", "text", "Last name."),
        Column("member_type", "text", "Account type of the member (e.g. 'admin', 'Creator', 'Viewer')."),
        Column(
            "is_archived",
            "boolean",
            "True when the member is archived (deactivated and removed). When Sigma's entries lack the "
            "flag, it is derived from the listings that leave archived members out.",
        ),
        Column(
            "is_inactive",
            "boolean",
            "True when the member is inactive (cannot sign in); derived like is_archived when absent.",
        ),
        Column("created_at", "timestamp", "When the member was created in Sigma (`createdAt`, UTC)."),
    ),
)

DATA_MODELS = Table(
    base_name="data_models",
    doc="One row per data model, per snapshot date: those `/v2/dataModels` lists, plus personal ones "
    "(which it leaves out) that a catalogued workbook uses.",
    key=("snapshot_date", "data_model_id"),
    columns=(
        _snapshot_date("data model row"),
        Column("data_model_id", "text", "Sigma's data model id (`dataModelId`).", False),
        Column("data_model_url_id", "text", "The id at the end of the data model's URL (`dataModelUrlId`)."),
        Column("name", "text", "Data model name."),
        Column("path", "text", "Folder path of the data model (`path`)."),
        Column("workspace", "text", "Workspace it lives in; 'My Documents' for personal data models."),
        Column("is_personal", "boolean", "True when it is in a user's personal space."),
        Column("url", "text", "Link that opens the data model in Sigma."),
        Column("owner_id", "text", "Member id of the owner (`ownerId`, else `createdBy`)."),
        Column("owner_email", "text", "Email of the owner, from the members list; NULL when unknown."),
        Column("created_at", "timestamp", "When the data model was created (UTC)."),
        Column("updated_at", "timestamp", "When it was last updated (UTC)."),
        Column("latest_version", "integer", "Latest saved version number."),
        Column("is_archived", "boolean", "True when the data model is archived."),
    ),
)

DATASETS = Table(
    base_name="datasets",
    doc="One row per dataset, per snapshot date (Sigma's dataset API is deprecated: the table is written "
    "as long as it answers).",
    key=("snapshot_date", "dataset_id"),
    columns=(
        _snapshot_date("dataset row"),
        Column("dataset_id", "text", "Sigma's dataset id (`datasetId`).", False),
        Column(
            "url_id",
            "text",
            "Last segment of the dataset's URL: the `inodeId` of a workbook's dataset source "
            "(sigma_workbook_sources.source_id) and, prefixed with 'inode-', its lineage node id.",
        ),
        Column("name", "text", "Dataset name."),
        Column("description", "text", "Dataset description."),
        Column("url", "text", "Link that opens the dataset in Sigma."),
        Column("created_by", "text", "Member id of its creator (`createdBy`)."),
        Column("created_at", "timestamp", "When it was created (UTC)."),
        Column("updated_at", "timestamp", "When it was last updated (UTC)."),
        Column("is_archived", "boolean", "True when the dataset is archived."),
    ),
)

WORKBOOK_SOURCES = Table(
    base_name="workbook_sources",
    doc="One row per source a workbook reads, per snapshot date, from `GET /v2/workbooks/{id}/sources` "
    "(one request per workbook).",
    key=("snapshot_date", "workbook_id", "source_type", "source_id"),
    columns=(
        _snapshot_date("source row"),
        Column("workbook_id", "text", "Id (UUID) of the workbook.", False),
        Column("source_type", "text", "'data-model', 'dataset' or 'table' (Sigma's `type`).", False),
        Column(
            "source_id",
            "text",
            "The data model id (`dataModelId`, joins sigma_data_models) or the dataset's or table's "
            "`inodeId` (a dataset's joins sigma_datasets.url_id).",
            False,
        ),
        Column("workbook_url_id", "text", "URL id of the workbook; joins to impressions and usage."),
        Column("element_ids", "json", "For data models: the ids of the workbook's elements that use it."),
        Column("version_tag_id", "text", "The data model version tag the workbook uses, when pinned."),
    ),
)

ELEMENT_LINEAGE = Table(
    base_name="element_lineage",
    doc="One row per node of each data element's lineage graph, per snapshot date, written only when "
    "the catalog runs with include_element_lineage=True (one request per table, visualization or "
    "pivot table element).",
    key=("snapshot_date", "workbook_id", "element_id", "node_id"),
    columns=(
        _snapshot_date("lineage row"),
        Column("workbook_id", "text", "Id (UUID) of the workbook.", False),
        Column("element_id", "text", "The element whose lineage this node belongs to.", False),
        Column(
            "node_id",
            "text",
            "Sigma's node id: the element's own 'sheet' node, 'inode-<url id>' for datasets, "
            "'<data model url id>/<suffix>' for data models, a table's inode id, a join's id.",
            False,
        ),
        Column("workbook_url_id", "text", "URL id of the workbook."),
        Column(
            "node_type",
            "text",
            "'sheet', 'join', 'table', 'dataset' or 'data-model'; a node Sigma names only in an edge "
            "(data models do this) gets its type from its id, or NULL.",
        ),
        Column("node_name", "text", "Node name (table name, dataset or data model name); NULL when absent."),
        Column(
            "upstream_node_id",
            "json",
            "The edges into this node: a JSON array of the node ids it reads from ([] for a source).",
        ),
    ),
)

TEAMS = Table(
    base_name="teams",
    doc="One row per team, per snapshot date.",
    key=("snapshot_date", "team_id"),
    columns=(
        _snapshot_date("team row"),
        Column("team_id", "text", "Sigma's team id (`teamId`).", False),
        Column("name", "text", "Team name."),
        Column("description", "text", "Team description."),
        Column("visibility", "text", "'public' or 'private'."),
        Column("created_by", "text", "Member id of its creator."),
        Column("created_at", "timestamp", "When it was created (UTC)."),
        Column("updated_at", "timestamp", "When it was last updated (UTC)."),
        Column("is_archived", "boolean", "True when the team is archived."),
    ),
)

TEAM_MEMBERS = Table(
    base_name="team_members",
    doc="One row per member of each team, per snapshot date (one request per team).",
    key=("snapshot_date", "team_id", "member_id"),
    columns=(
        _snapshot_date("team membership row"),
        Column("team_id", "text", "The team.", False),
        Column("member_id", "text", "The member (joins sigma_members).", False),
        Column("email", "text", "The member's email."),
    ),
)

WORKSPACES = Table(
    base_name="workspaces",
    doc="One row per workspace, per snapshot date, with whether the catalog's credentials can see it "
    "(a workspace they cannot see hides its content from non-admin listings and from lineage).",
    key=("snapshot_date", "workspace_id"),
    columns=(
        _snapshot_date("workspace row"),
        Column("workspace_id", "text", "Sigma's workspace id (`workspaceId`).", False),
        Column("name", "text", "Workspace name."),
        Column(
            "is_personal",
            "boolean",
            "True for the personal space, which some tenants list as a workspace ('User Folder').",
        ),
        Column(
            "visible_to_caller",
            "boolean",
            "True when the credentials' owner can see the workspace (is a member of it): it is in "
            "`GET /v2/files?typeFilters=workspace`, which admins do not bypass.",
        ),
        Column("created_by", "text", "Member id of its creator."),
        Column("created_at", "timestamp", "When it was created (UTC)."),
        Column("updated_at", "timestamp", "When it was last updated (UTC)."),
    ),
)

_SOURCE_URI = Column(
    "source_uri",
    "text",
    "URI of the export file the stored values come from: the newest file (by last-modified time) "
    "holding the event.",
    False,
)

IMPRESSION_EVENTS = Table(
    base_name="impression_events",
    doc="One row per impression event read from the audit-log exports, deduplicated across overlapping "
    "export files by event_key. Kept for `event_retention_days` (default 35) days, so the daily table "
    "can be recomputed for late-arriving events.",
    key=("event_key",),
    columns=(
        Column(
            "event_key",
            "text",
            "Stable hash of the event's identifying fields; the same event in two export files gets the "
            "same key, so it is stored once.",
            False,
        ),
        Column("request_time", "timestamp", "When the impression happened (UTC).", False),
        Column("day", "date", "UTC date of request_time.", False),
        Column("user_email", "text", "Who viewed the workbook or element.", False),
        Column("workbook_url_id", "text", "URL id of the viewed workbook.", False),
        Column(
            "element_id",
            "text",
            "Viewed element; the empty string '' when the row is an impression of the workbook itself.",
            False,
        ),
        Column(
            "impressions",
            "integer",
            "Impressions the row stands for (the export's count; 1 if absent).",
            False,
        ),
        _SOURCE_URI,
    ),
)

IMPRESSIONS_DAILY = Table(
    base_name="impressions_daily",
    doc="Impressions per day, workbook, element and user. Days touched by new events are recomputed "
    "from sigma_impression_events and replaced; older days are kept for as long as you like.",
    key=("day", "workbook_url_id", "element_id", "user_email"),
    columns=(
        Column("day", "date", "UTC date of the impressions.", False),
        Column("workbook_url_id", "text", "URL id of the viewed workbook.", False),
        Column("element_id", "text", "Viewed element; '' for workbook-level impressions.", False),
        Column("user_email", "text", "Who viewed it.", False),
        Column("impressions", "integer", "Number of impressions that day.", False),
    ),
)

EXPORT_FILES = Table(
    base_name="export_files",
    doc="One row per export file version a job has read, so every row is accounted for (read = accepted "
    "+ filtered + bad). A file listed again by a later run is read again and its row replaced; events "
    "it repeats are stored once. A failed run records nothing.",
    key=("job", "uri", "etag"),
    columns=(
        Column(
            "job",
            "text",
            "Which job read the file: 'impressions' or 'audit'. Both jobs may read the same export, and "
            "each keeps its own record.",
            False,
        ),
        Column("uri", "text", "Full URI of the file, e.g. s3://bucket/prefix/2024-05-01-file.csv.gz.", False),
        Column(
            "etag",
            "text",
            "Version of the file: the S3 ETag or the GCS generation ('' when the store has none). A "
            "rewritten file has a new etag and is read again.",
            False,
        ),
        Column("size", "integer", "Size of the file in bytes."),
        Column("last_modified", "timestamp", "Last-modified time reported by the object store (UTC)."),
        Column("rows_read", "integer", "Data rows read from the file (header excluded)."),
        Column("rows_accepted", "integer", "Rows turned into events."),
        Column("rows_filtered", "integer", "Rows skipped on purpose (e.g. events of other kinds)."),
        Column(
            "bad_rows",
            "integer",
            "Rows rejected as invalid (all kinds; the breakdown is in bad_row_kinds), so that "
            "SUM(bad_rows) adds up.",
        ),
        Column(
            "bad_row_kinds",
            "json",
            "Bad rows counted by kind: wrong_field_count, unterminated_quote, invalid_utf8, nul_byte (a NUL "
            "byte in a stored value), missing_value, missing_event_id (an empty id in a file with an "
            "event-id column), bad_timestamp, future_timestamp (dated over a day after the run's end), "
            "bad_count, value_too_long; a malformed row spanning several lines counts once per line; "
            'e.g. {"bad_timestamp": 2, "missing_value": 1}.',
        ),
        Column(
            "duplicate_events",
            "integer",
            "Accepted rows of this file not stored from it: the event repeats within the run, or a newer "
            "file holds it (events count once).",
        ),
        Column("processed_at", "timestamp", "When the job processed the file (UTC)."),
        Column("status", "text", "'loaded', or 'empty' for a file without data rows."),
    ),
)

USAGE = Table(
    base_name="usage",
    doc="Usage of every discovered workbook and element (and of workbooks seen only in impressions) as "
    "of a date. Windows of N days end on as_of inclusive. A run replaces its own as_of.",
    key=("as_of", "resource_type", "workbook_url_id", "element_id"),
    columns=(
        Column("as_of", "date", "Date (UTC) the usage figures are computed for.", False),
        Column(
            "resource_type",
            "text",
            "'workbook', 'element' or 'data_model' (usage of the workbooks using it, through "
            "sigma_workbook_sources).",
            False,
        ),
        Column(
            "workbook_id", "text", "Workbook id (UUID); NULL for workbooks never discovered by the catalog."
        ),
        Column("workbook_url_id", "text", "URL id of the workbook (of the element's workbook).", False),
        Column("element_id", "text", "Element id; '' for workbook rows.", False),
        Column("name", "text", "Workbook or element name from the latest catalog snapshot."),
        Column("path", "text", "Folder path of the workbook."),
        Column("owner_email", "text", "Email of the workbook's owner."),
        Column(
            "discovered",
            "boolean",
            "True when the resource is in the latest catalog snapshot; False when it appears only in "
            "impressions (deleted, or not visible to the catalog's credentials).",
        ),
        Column("impressions_7d", "integer", "Impressions in the 7 days ending on as_of."),
        Column("impressions_14d", "integer", "Impressions in the 14 days ending on as_of."),
        Column("impressions_30d", "integer", "Impressions in the 30 days ending on as_of."),
        Column("impressions_60d", "integer", "Impressions in the 60 days ending on as_of."),
        Column(
            "element_impressions_30d",
            "integer",
            "Impressions of elements in the 30 days ending on as_of: for a workbook row, the sum over its "
            "elements; for an element row, its own.",
        ),
        Column("unique_users_14d", "integer", "Distinct users with an impression in the last 14 days."),
        Column("unique_users_30d", "integer", "Distinct users with an impression in the last 30 days."),
        Column(
            "last_impression_at",
            "timestamp",
            "Start (00:00 UTC) of the last day with an impression on or before as_of (impressions are kept "
            "per day); NULL if none.",
        ),
        Column(
            "days_since_last_impression", "integer", "Days from the last impression to as_of; NULL if none."
        ),
        Column("used", "boolean", "True when the resource meets the configured 'used' threshold."),
        Column(
            "owner_active",
            "boolean",
            "False when the workbook's owner is archived or inactive in the catalog snapshot (content whose "
            "owner left); True when neither; NULL when unknown (no owner, owner not among the members, "
            "flags missing, or not discovered).",
        ),
    ),
)

AUDIT_EVENTS = Table(
    base_name="audit_events",
    doc="Audit-log events loaded from the exports and kept beyond Sigma's retention window, deduplicated "
    "by event_key.",
    key=("event_key",),
    columns=(
        Column(
            "event_key",
            "text",
            "The event id, or the event's time in epoch microseconds, ';' and a stable hash of its "
            "identifying fields (deduplication key).",
            False,
        ),
        Column("request_time", "timestamp", "When the event happened (UTC).", False),
        Column("day", "date", "UTC date of request_time.", False),
        Column("event_type", "text", "Event category, e.g. 'ACCESS_SIGMA', 'OBJECT_INTERACTION'."),
        Column("event_name", "text", "Event name within the category, e.g. 'Login'."),
        Column("event_status", "text", "Outcome reported by Sigma, e.g. 'SUCCESS' or 'FAILURE'."),
        Column("user_email", "text", "User who caused the event, when known."),
        Column("object_id", "text", "Id of the object the event is about, when any."),
        Column("object_name", "text", "Name of that object."),
        Column("object_type", "text", "Kind of that object, e.g. 'workbook'."),
        Column("attributes", "json", "The event's other columns, as a JSON object keyed by column name."),
        _SOURCE_URI,
    ),
)

DAILY_LOGINS = Table(
    base_name="daily_logins",
    doc="Logins per day: the history companies keep for years. Days touched by new events are recomputed "
    "from sigma_audit_events and replaced.",
    key=("day",),
    columns=(
        Column("day", "date", "UTC date.", False),
        Column("successful_logins", "integer", "Successful login events that day.", False),
        Column("failed_logins", "integer", "Failed login events that day.", False),
        Column("users_logged_in", "integer", "Distinct users with at least one successful login.", False),
    ),
)

DAILY_EVENT_COUNTS = Table(
    base_name="daily_event_counts",
    doc="Audit events per day, type, name and status. Days touched by new events are recomputed and "
    "replaced.",
    key=("day", "event_type", "event_name", "event_status"),
    columns=(
        Column("day", "date", "UTC date.", False),
        Column("event_type", "text", "Event category; '' when the event has none.", False),
        Column("event_name", "text", "Event name; '' when the event has none.", False),
        Column("event_status", "text", "Event status; '' when the event has none.", False),
        Column("events", "integer", "Number of events.", False),
        Column("users", "integer", "Distinct users among those events.", False),
    ),
)

MEMBER_ACTIVITY = Table(
    base_name="member_activity",
    doc="Who uses their seat: one row per member of the latest catalog snapshot on or before as_of, "
    "plus one per user seen only in the audit events (successful logins and views). Windows of N days "
    "end on as_of inclusive; only events on or before as_of count. Login figures are NULL, not 0, when "
    "the audit history holds no login event on or before as_of; view figures likewise. A run replaces "
    "its own as_of.",
    key=("as_of", "member_id"),
    columns=(
        Column("as_of", "date", "Date (UTC) the activity is computed for.", False),
        Column(
            "member_id",
            "text",
            "Sigma member id; for a user not in the catalog snapshot, the lower-cased email of the events.",
            False,
        ),
        Column(
            "in_catalog",
            "boolean",
            "True for a member of the catalog snapshot; False for a user known only from audit events.",
        ),
        Column("email", "text", "The member's email (events are matched to it ignoring case)."),
        Column("member_type", "text", "Account type, from the catalog; NULL when not in the catalog."),
        Column("is_archived", "boolean", "From the catalog; NULL when not in the catalog."),
        Column("is_inactive", "boolean", "From the catalog; NULL when not in the catalog."),
        Column("created_at", "timestamp", "When the member was created in Sigma; NULL when unknown."),
        Column(
            "last_login_at",
            "timestamp",
            "Time of the last successful login on or before as_of in the stored audit history; NULL when "
            "there is none (or no login figures, see logins_30d).",
        ),
        Column(
            "last_impression_at",
            "timestamp",
            "Time of the last workbook or element view on or before as_of; NULL when there is none.",
        ),
        Column(
            "logins_30d",
            "integer",
            "Successful logins in the 30 days ending on as_of; NULL when no login event at all is stored "
            "on or before as_of, or the member has no email.",
        ),
        Column(
            "logins_90d", "integer", "Successful logins in the 90 days ending on as_of; NULL as logins_30d."
        ),
        Column(
            "impressions_30d",
            "integer",
            "Workbook and element view events in the 30 days ending on as_of; NULL when no view event at "
            "all is stored on or before as_of, or the member has no email.",
        ),
        Column(
            "impressions_90d",
            "integer",
            "View events in the 90 days ending on as_of; NULL as impressions_30d.",
        ),
        Column(
            "days_active_30d",
            "integer",
            "Distinct UTC days of the 30 ending on as_of with a successful login or a view; NULL when "
            "neither logins nor views are stored, or the member has no email.",
        ),
        Column(
            "seat_unused",
            "boolean",
            "True when the member has no successful login in the unused_after_days (default 60) days "
            "ending on as_of and the stored login history covers all those days; False when they logged "
            "in within them; NULL when unknown (no login events stored, a history shorter than the "
            "window, or no email).",
        ),
    ),
)

ALL_TABLES: tuple[Table, ...] = (
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
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    EXPORT_FILES,
    USAGE,
    AUDIT_EVENTS,
    DAILY_LOGINS,
    DAILY_EVENT_COUNTS,
    MEMBER_ACTIVITY,
)
