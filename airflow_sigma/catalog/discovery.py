"""Discover workbooks, pages, elements and members through a :class:`SigmaClient` (no Airflow).

Every request runs in one thread pool of ``max_concurrency`` threads, so no more requests are ever
in flight. Top-level listings (workbooks, members) run first, side by side; a failure there stops the
run before anything else is fetched. Then :class:`~airflow_sigma.catalog.fanout.ElementFanOut` lists
pages and elements; failures scoped to one workbook skip its elements (its row is kept) up to
``max_skipped_fraction``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_sigma.api.errors import SigmaAPIError
from airflow_sigma.catalog.fanout import ElementFanOut
from airflow_sigma.catalog.listings import PartListings, listing_failed, result_of
from airflow_sigma.catalog.model import (
    Catalog,
    CatalogOptions,
    CatalogStats,
    Parts,
    PersonalScope,
    SkippedWorkbook,
    describe_skipped,
)
from airflow_sigma.catalog.rows import (
    ElementRow,
    MemberRow,
    WorkbookRow,
    is_personal_space,
    member_row,
    owner_of,
    workbook_row,
)

if TYPE_CHECKING:
    from airflow_sigma.api.client import SigmaClient

log = logging.getLogger(__name__)
T = TypeVar("T")

NOT_ADMIN_MESSAGE = (
    "include_personal is on, but Sigma refused to list every user's My Documents "
    "(GET /v2/workbooks?skipPermissionCheck=true answered HTTP 403): the credentials' owner is NOT an "
    "admin. Continuing with what these credentials can see: their own My Documents and the workspaces "
    "they are a member of. To catalog everyone's personal content, use client credentials owned by a "
    "user with the Admin account type."
)


def discover_catalog(client: SigmaClient, options: CatalogOptions | None = None) -> Catalog:
    """List the catalog described by ``options``; raise :class:`CatalogError` when it is incomplete.

    :param client: a Sigma client whose ``pool_size`` is at least ``options.max_concurrency``.
    :param options: what to discover (default ``CatalogOptions()``).
    """
    return _Discovery(client, options or CatalogOptions()).run()


@dataclass(frozen=True)
class _TopLevel:
    """What the top-level listings returned, filtered by the options."""

    workbooks: list[WorkbookRow]
    listed: int
    members: list[MemberRow]
    admin: bool | None
    visible_workspaces: list[str] | None
    parts: Parts
    listings: PartListings


class _Discovery:
    def __init__(self, client: SigmaClient, options: CatalogOptions) -> None:
        self.client = client
        self.options = options
        self.pool: ThreadPoolExecutor | None = None

    def run(self) -> Catalog:
        requests_before = self.client.stats.requests
        options = self.options
        with ThreadPoolExecutor(options.max_concurrency, thread_name_prefix="sigma-catalog") as pool:
            self.pool = pool
            try:
                top = self._top_level()
                workbooks, members, admin, parts = top.workbooks, top.members, top.admin, top.parts
                self._check_workspace_filter(workbooks, top.visible_workspaces)
                elements: list[ElementRow] = []
                pages = 0
                skipped: list[SkippedWorkbook] = []
                no_lineage: dict[str, int] = {}
                if options.include_workbook_sources:
                    parts.sources = []
                if options.include_element_lineage:
                    parts.lineage = []
                if (options.include_elements or options.include_workbook_sources) and workbooks:
                    fan_out = ElementFanOut(self.client, options, workbooks)
                    elements = fan_out.run(pool)
                    pages, skipped = fan_out.pages, fan_out.skipped
                    no_lineage = dict(fan_out.no_lineage)
                    if options.include_workbook_sources:
                        parts.sources = fan_out.sources
                    if options.include_element_lineage:
                        parts.lineage = fan_out.lineage
                emails = {m.member_id: m.email for m in members if m.email}
                unresolved = top.listings.finish(parts, parts.sources, emails)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        personal: PersonalScope = "none"
        if options.include_personal:
            personal = "all" if admin else "own"
        stats = CatalogStats(
            workspaces=len({wb.workspace for wb in workbooks if not wb.is_personal and wb.workspace}),
            workbooks=len(workbooks),
            personal_workbooks=sum(wb.is_personal for wb in workbooks),
            archived_workbooks=sum(wb.is_archived for wb in workbooks),
            pages=pages,
            elements=len(elements),
            members=len(members),
            listed_workbooks=top.listed,
            skipped=tuple(skipped),
            admin=admin,
            personal=personal,
            requests=self.client.stats.requests - requests_before,
            no_lineage=no_lineage,
            unresolved_data_models=unresolved,
        )
        log.info(
            "Sigma catalog: %d workbooks in %d workspaces (%d personal, %d archived), %d pages, %d elements, "
            "%d members; %d skipped; %d requests",
            stats.workbooks, stats.workspaces, stats.personal_workbooks, stats.archived_workbooks,
            stats.pages, stats.elements, stats.members, len(skipped), stats.requests,
        )  # fmt: skip
        counted = {name: count for name, count in parts.counts().items() if count is not None}
        if counted:
            log.info(
                "Sigma catalog parts: %s", ", ".join(f"{count} {name}" for name, count in counted.items())
            )
        if skipped:
            log.warning("Workbooks kept without their elements: %s", describe_skipped(skipped))
        return Catalog(workbooks, elements, members, stats, options, parts)

    # -- top-level listings -------------------------------------------------------------------------

    def _submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        assert self.pool is not None
        return self.pool.submit(function, *args)

    def _top_level(self) -> _TopLevel:
        members_future = self._submit(self._list_members)
        listings = PartListings(self.client, self.options, self._submit)
        admin: bool | None = None
        if self.options.include_personal:
            try:
                rows, listed = self._list_all_workbooks(admin_listing=True)
                admin = True
            except SigmaAPIError as exc:
                if exc.status != 403:
                    raise listing_failed("workbooks", exc) from exc
                log.warning(NOT_ADMIN_MESSAGE)
                admin = False
                rows, listed = self._list_all_workbooks(admin_listing=False)
        else:
            rows, listed = self._list_all_workbooks(admin_listing=False)
        members = self._with_member_flags(result_of(members_future, "members"))
        visible_workspaces = listings.workspace_names() if self.options.workspaces else None
        emails = {m.member_id: m.email for m in members if m.email}
        parts = listings.collect(emails)
        workbooks = [row._replace(owner_email=emails.get(row.owner_id or "")) for row in rows]
        unknown_owners = sum(1 for wb in workbooks if wb.owner_id and wb.owner_email is None)
        if unknown_owners:
            log.info(
                "%d workbooks have an owner missing from the members list: owner_email NULL", unknown_owners
            )
        log.info(
            "Listed %d workbooks and %d members; cataloguing %d workbooks (%s)",
            listed, len(members), len(workbooks), self._describe_selection(),
        )  # fmt: skip
        return _TopLevel(workbooks, listed, members, admin, visible_workspaces, parts, listings)

    def _list_all_workbooks(self, *, admin_listing: bool) -> tuple[list[WorkbookRow], int]:
        """Run the non-archived (and archived) listings side by side; raise a 403 as is.

        Entries without ``ownerId`` take their owner from ``createdBy`` (else ``updatedBy``): counted
        and logged.
        """
        flags = (False, True) if self.options.include_archived else (False,)
        futures = [self._submit(self._list_workbooks, admin_listing, archived) for archived in flags]
        wait(futures)
        errors = [f.exception() for f in futures if f.exception() is not None]
        for error in errors:
            if admin_listing and isinstance(error, SigmaAPIError) and error.status == 403:
                raise error
        rows: list[WorkbookRow] = []
        listed = 0
        seen: set[str] = set()
        duplicates = 0
        fallbacks: Counter[str] = Counter()
        for future in futures:
            part, count, owners = result_of(future, "workbooks")
            listed += count
            fallbacks.update(owners)
            for row in part:
                if row.workbook_id in seen:
                    duplicates += 1
                    continue
                seen.add(row.workbook_id)
                rows.append(row)
        if duplicates:
            log.warning("Sigma listed %d workbooks more than once; each is kept once", duplicates)
        if fallbacks:
            log.warning(
                "%d workbooks have no ownerId in Sigma's answer: owner_id taken from %s",
                sum(fallbacks.values()),
                ", ".join(f"{field} for {count}" for field, count in sorted(fallbacks.items())),
            )
        return rows, listed

    def _list_workbooks(
        self, admin_listing: bool, archived: bool
    ) -> tuple[list[WorkbookRow], int, Counter[str]]:
        entries = self.client.list_workbooks(
            skip_permission_check=admin_listing,
            exclude_explorations=admin_listing,
            is_archived=archived,
            page_size=self.options.page_size,
        )
        rows: list[WorkbookRow] = []
        listed = 0
        owners: Counter[str] = Counter()
        for entry in entries:
            listed += 1
            row = workbook_row(entry, listed_archived=archived, emails={})
            if self._wanted(row):
                rows.append(row)
                owner_field = owner_of(entry)[1]
                if owner_field != "ownerId":
                    owners[owner_field or "nothing (owner_id NULL)"] += 1
        return rows, listed, owners

    def _wanted(self, row: WorkbookRow) -> bool:
        if row.is_archived and not self.options.include_archived:
            return False
        if row.is_personal:
            return self.options.include_personal
        return self.options.wants_workspace(row.workspace)

    def _list_members(self) -> list[MemberRow]:
        entries = self.client.list_members(
            include_archived=True, include_inactive=True, page_size=self.options.page_size
        )
        rows: dict[str, MemberRow] = {}
        for entry in entries:
            row = member_row(entry)
            rows.setdefault(row.member_id, row)
        return list(rows.values())

    def _with_member_flags(self, members: list[MemberRow]) -> list[MemberRow]:
        """Fill in ``is_archived``/``is_inactive`` when Sigma's entries lack them.

        Each flag is derived from the listing that leaves those members out: a member missing from
        ``includeArchived=false&includeInactive=true`` is archived; one missing from
        ``includeArchived=true&includeInactive=false`` is inactive. Two more listings, only when needed.
        """
        lacking = sum(1 for m in members if m.is_archived is None or m.is_inactive is None)
        if not lacking:
            return members
        unarchived = self._submit(self._member_ids, False, True)
        active = self._submit(self._member_ids, True, False)
        not_archived, not_inactive = result_of(unarchived, "members"), result_of(active, "members")
        log.warning(
            "%d of %d Sigma members have no isArchived/isInactive flags: derived from the listings "
            "without archived members (%d listed) and without inactive members (%d listed)",
            lacking, len(members), len(not_archived), len(not_inactive),
        )  # fmt: skip
        return [
            m._replace(
                is_archived=m.member_id not in not_archived if m.is_archived is None else m.is_archived,
                is_inactive=m.member_id not in not_inactive if m.is_inactive is None else m.is_inactive,
            )
            for m in members
        ]

    def _member_ids(self, include_archived: bool, include_inactive: bool) -> set[str]:
        entries = self.client.list_members(
            include_archived=include_archived,
            include_inactive=include_inactive,
            page_size=self.options.page_size,
        )
        return {member_row(entry).member_id for entry in entries}

    def _describe_selection(self) -> str:
        options = self.options
        parts = [
            f"workspaces {list(options.workspaces)}" if options.workspaces else "all workspaces",
            "with personal content" if options.include_personal else "without personal content",
            "with archived" if options.include_archived else "without archived",
        ]
        return ", ".join(parts)

    def _check_workspace_filter(self, workbooks: list[WorkbookRow], visible: list[str] | None) -> None:
        names = self.options.workspaces
        if not names:
            return
        used = {wb.workspace.casefold() for wb in workbooks if wb.workspace and not wb.is_personal}
        if visible is not None:
            visible = [name for name in visible if not is_personal_space(name)]
        visible_folded = {name.casefold() for name in visible} if visible is not None else None
        for name in names:
            if is_personal_space(name) or name.casefold() in used:
                continue
            if visible_folded is not None and name.casefold() not in visible_folded:
                log.warning(
                    "Workspace %r is not among the %d workspaces these credentials can see (%s): check the "
                    "spelling, or add the credentials' owner to it",
                    name, len(visible_folded), ", ".join(sorted(visible or [])),
                )  # fmt: skip
            else:
                log.warning(
                    "Workspace %r holds no workbook these credentials can list (is the owner a member?)", name
                )
