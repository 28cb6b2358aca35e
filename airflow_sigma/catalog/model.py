"""What a catalog run is asked to do (:class:`CatalogOptions`) and what it found (:class:`Catalog`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from airflow_sigma.api.pagination import MAX_PAGE_SIZE
from airflow_sigma.catalog.parts import (
    DataModelRow,
    DatasetRow,
    LineageRow,
    SourceRow,
    TeamMemberRow,
    TeamRow,
    WorkspaceRow,
)
from airflow_sigma.catalog.rows import ElementRow, MemberRow, WorkbookRow, is_personal_space
from airflow_sigma.exceptions import SigmaProviderError, is_retryable

PersonalScope = Literal["all", "own", "none"]
SUMMARY_SKIPPED_LIMIT = 20


class CatalogError(SigmaProviderError):
    """The catalog could not be discovered completely; nothing must be written.

    Retryable as its cause is (a listing refused with 403 is not; one that found no server is).
    """

    @property
    def retryable(self) -> bool:
        return is_retryable(self.__cause__) if self.__cause__ is not None else True


class CatalogIncompleteError(CatalogError):
    """More workbooks were skipped than ``max_skipped_fraction`` allows.

    A workbook is skipped when one of its listings fails (pages, elements, sources, lineage). The error
    is retried only when a retry can succeed: when the workbooks that failed for a reason a retry cannot
    fix (HTTP 403, a permission the credentials' owner must be given; 400; an answer the catalog cannot
    use) are within ``max_skipped_fraction`` on their own, so that the transient failures (5xx, 429, no
    answer, a workbook deleted while the run listed it) may clear. Otherwise the task fails at once.

    :param message: the explanation.
    :param skipped: the workbooks skipped so far.
    :param allowed: how many may be skipped.
    """

    def __init__(self, message: str, *, skipped: Sequence[SkippedWorkbook] = (), allowed: int = 0) -> None:
        super().__init__(message)
        self.skipped = list(skipped)
        self.allowed = allowed

    @property
    def terminal_skips(self) -> list[SkippedWorkbook]:
        """The skipped workbooks that a retry would skip again."""
        return [s for s in self.skipped if not s.retryable]

    @property
    def retryable(self) -> bool:
        return len(self.terminal_skips) <= self.allowed


@dataclass(frozen=True)
class CatalogOptions:
    """What to discover.

    :param workspaces: names of the shared workspaces to include (case-insensitive); None for all.
        Personal content is governed by ``include_personal`` alone.
    :param include_personal: include personal "My Documents" content: every user's when the
        credentials are an admin's, otherwise the caller's own.
    :param include_archived: include archived workbooks (a second listing).
    :param include_elements: list each workbook's pages and their elements.
    :param include_data_models: list data models (``sigma_data_models``); personal ones that workbook
        sources name are fetched one by one.
    :param include_datasets: list datasets (``sigma_datasets``).
    :param include_workbook_sources: one ``/sources`` request per workbook (``sigma_workbook_sources``).
    :param include_element_lineage: one lineage request per data element (``sigma_element_lineage``);
        needs ``include_elements``.
    :param include_teams: list teams and each team's members (``sigma_teams``, ``sigma_team_members``).
    :param include_workspaces: list workspaces and which the caller can see (``sigma_workspaces``).
    :param max_concurrency: the most API requests in flight at once.
    :param max_skipped_fraction: the share of workbooks whose elements may be skipped (pages or
        elements could not be listed) before the run fails.
    :param page_size: entries per list request, 1..1000.
    :param progress_interval: seconds between progress lines (one is also logged every 10%).
    """

    workspaces: tuple[str, ...] | None = None
    include_personal: bool = False
    include_archived: bool = False
    include_elements: bool = True
    include_data_models: bool = True
    include_datasets: bool = True
    include_workbook_sources: bool = True
    include_element_lineage: bool = False
    include_teams: bool = True
    include_workspaces: bool = True
    max_concurrency: int = 8
    max_skipped_fraction: float = 0.05
    page_size: int = MAX_PAGE_SIZE
    progress_interval: float = 5.0

    def __post_init__(self) -> None:
        if self.workspaces is not None:
            names = tuple(dict.fromkeys(name.strip() for name in self.workspaces if name and name.strip()))
            object.__setattr__(self, "workspaces", names or None)
        if self.workspaces and not self.include_personal:
            personal = [n for n in self.workspaces if is_personal_space(n)]
            if personal:
                raise ValueError(
                    f"workspaces names {personal[0]!r}, which is personal content: set include_personal=True "
                    "to include My Documents (the workspaces filter applies to shared workspaces)."
                )
        if self.include_element_lineage and not self.include_elements:
            raise ValueError(
                "include_element_lineage needs include_elements=True (lineage is requested per element)"
            )
        if isinstance(self.max_concurrency, bool) or not isinstance(self.max_concurrency, int):
            raise ValueError(f"max_concurrency must be an integer >= 1, got {self.max_concurrency!r}")
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an integer >= 1, got {self.max_concurrency!r}")
        if not 0.0 <= self.max_skipped_fraction <= 1.0:
            raise ValueError(f"max_skipped_fraction must be from 0 to 1, got {self.max_skipped_fraction!r}")
        if isinstance(self.page_size, bool) or not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(
                f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {self.page_size!r}"
            )

    def wants_workspace(self, workspace: str | None) -> bool:
        """Whether a shared workspace passes the ``workspaces`` filter.

        :param workspace: the workspace name (first segment of a workbook's path).
        """
        if self.workspaces is None:
            return True
        return workspace is not None and workspace.casefold() in {n.casefold() for n in self.workspaces}


@dataclass(frozen=True)
class SkippedWorkbook:
    """A workbook whose row is kept but whose pages or elements could not be listed.

    :param workbook_id: the workbook UUID.
    :param name: its name.
    :param reason: what failed, e.g. ``"pages: HTTP 403 (forbidden)"``.
    :param retryable: whether a later run may list it (the failure was transient).
    """

    workbook_id: str
    name: str | None
    reason: str
    retryable: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"workbook_id": self.workbook_id, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class CatalogStats:
    """Counts of one discovery.

    :param workspaces: distinct shared workspaces holding catalogued workbooks.
    :param workbooks: catalogued workbooks (skipped ones included: their rows are kept).
    :param personal_workbooks: catalogued workbooks in someone's My Documents.
    :param archived_workbooks: catalogued archived workbooks.
    :param pages: pages listed for workbooks that were not skipped.
    :param elements: element rows.
    :param members: member rows.
    :param listed_workbooks: workbooks the listings returned, before filtering.
    :param skipped: workbooks whose elements were skipped, in the order they failed.
    :param admin: True when the admin listing (skipPermissionCheck) was accepted, False when it was
        refused, None when it was not tried (``include_personal`` off).
    :param personal: ``"all"`` users' My Documents, only the caller's ``"own"``, or ``"none"``.
    :param requests: HTTP requests sent by the client during discovery (retries and tokens included).
    :param no_lineage: data elements without lineage rows, by reason (e.g. ``"no lineage (HTTP 500)"``).
    :param unresolved_data_models: data model ids named by workbook sources that could not be fetched.
    """

    workspaces: int = 0
    workbooks: int = 0
    personal_workbooks: int = 0
    archived_workbooks: int = 0
    pages: int = 0
    elements: int = 0
    members: int = 0
    listed_workbooks: int = 0
    skipped: tuple[SkippedWorkbook, ...] = ()
    admin: bool | None = None
    personal: PersonalScope = "none"
    requests: int = 0
    no_lineage: dict[str, int] = field(default_factory=dict)
    unresolved_data_models: int = 0


@dataclass
class Parts:
    """Rows of the optional tables; None for a part that was not discovered (its table is left alone).

    :param data_models: ``sigma_data_models`` rows.
    :param datasets: ``sigma_datasets`` rows (None also when the deprecated API no longer answers).
    :param sources: ``sigma_workbook_sources`` rows.
    :param lineage: ``sigma_element_lineage`` rows.
    :param teams: ``sigma_teams`` rows.
    :param team_members: ``sigma_team_members`` rows.
    :param workspaces: ``sigma_workspaces`` rows.
    """

    data_models: list[DataModelRow] | None = None
    datasets: list[DatasetRow] | None = None
    sources: list[SourceRow] | None = None
    lineage: list[LineageRow] | None = None
    teams: list[TeamRow] | None = None
    team_members: list[TeamMemberRow] | None = None
    workspaces: list[WorkspaceRow] | None = None

    def counts(self) -> dict[str, int | None]:
        return {name: None if rows is None else len(rows) for name, rows in vars(self).items()}


@dataclass
class Catalog:
    """The rows of the catalog tables for one snapshot, plus what it took to get them.

    :param workbooks: ``sigma_workbooks`` rows, in listing order.
    :param elements: ``sigma_workbook_elements`` rows, grouped by workbook in listing order.
    :param members: ``sigma_members`` rows.
    :param stats: counts.
    :param options: the options it was discovered with.
    :param parts: rows of the optional tables.
    """

    workbooks: list[WorkbookRow]
    elements: list[ElementRow]
    members: list[MemberRow]
    stats: CatalogStats
    options: CatalogOptions = field(default_factory=CatalogOptions)
    parts: Parts = field(default_factory=Parts)

    def summary(self, snapshot_date: date) -> dict[str, Any]:
        """A small JSON-serialisable summary (for XCom): counts and settings, never rows.

        :param snapshot_date: the date the catalog is stored under.
        """
        stats, options = self.stats, self.options
        return {
            "snapshot_date": snapshot_date.isoformat(),
            "workspaces": stats.workspaces,
            "workbooks": stats.workbooks,
            "pages": stats.pages,
            "elements": stats.elements,
            "members": stats.members,
            "skipped": len(stats.skipped),
            "skipped_workbooks": [s.as_dict() for s in stats.skipped[:SUMMARY_SKIPPED_LIMIT]],
            "personal_workbooks": stats.personal_workbooks,
            "archived_workbooks": stats.archived_workbooks,
            "include_personal": options.include_personal,
            "personal_content": stats.personal,
            "admin": stats.admin,
            "include_archived": options.include_archived,
            "include_elements": options.include_elements,
            "workspace_filter": list(options.workspaces) if options.workspaces else None,
            "requests": stats.requests,
            "parts": self.parts.counts(),
            "no_lineage": dict(stats.no_lineage),
            "unresolved_data_models": stats.unresolved_data_models,
        }


def describe_skipped(skipped: Sequence[SkippedWorkbook], limit: int = SUMMARY_SKIPPED_LIMIT) -> str:
    """``'Name' (id): reason; ...`` for log lines and error messages.

    :param skipped: the skipped workbooks.
    :param limit: how many to name; the rest are counted.
    """
    text = "; ".join(f"{s.name!r} ({s.workbook_id}): {s.reason}" for s in skipped[:limit])
    return text + (f"; and {len(skipped) - limit} more" if len(skipped) > limit else "")
