"""A deterministic Sigma organisation for the local test server.

``Org.generate(OrgSpec(seed=..., workbooks=...))`` always builds the same members, workspaces, folders,
workbooks (shared, personal "My Documents", archived, explorations), pages and elements, so tests can
compute expected results from ``server.org``. Field names follow reference/sigma-api.md §3.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

BASE62 = string.digits + string.ascii_letters
MY_DOCUMENTS = "My Documents"
_EPOCH = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
_SPAN_SECONDS = 2 * 365 * 86400

_WORKSPACE_NAMES = ["Finance", "Sales", "Marketing", "Product", "Operations", "People", "Support", "Data"]
_TOPICS = ["Revenue", "Pipeline", "Churn", "Campaign", "Forecast", "Support Tickets", "Usage", "Hiring"]
_KINDS = ["Dashboard", "Overview", "Deep Dive", "Report", "Tracker", "Analysis"]
_PAGE_NAMES = ["Overview", "Details", "Trends", "Data", "Appendix", "Drill-down"]
_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman"]
_COLUMNS = ["Order Id", "Customer Id", "Order Date", "Region", "Revenue", "Quantity", "Status", "Channel"]
_VIZ = ["bar", "line", "area", "scatter", "pie", "donut", "kpi", "region-map"]
_ELEMENT_TYPES = ["table", "visualization", "visualization", "pivot-table", "control", "text"]
_MEMBER_TYPES = ["Creator", "Explorer", "Viewer", "Admin"]
_ACCOUNT_TYPES = ["Admin", "Creator", "Explorer", "Viewer", "Lite", "Analyst", "Guest", "Embed"]


@dataclass(frozen=True)
class OrgSpec:
    """What to generate. Same spec, same organisation.

    :param seed: seeds every random choice.
    :param workbooks: number of workbooks, explorations included.
    :param pages_per_workbook: pages in every workbook.
    :param elements_per_page: elements on every page.
    :param members: human users besides the API caller (the credentials' owner).
    :param workspaces: shared workspaces.
    :param folders_per_workspace: folders inside each workspace.
    :param personal_share: share of workbooks living in some user's My Documents.
    :param archived_share: share of (non-exploration) workbooks that are archived.
    :param exploration_share: share of workbooks that are unsaved explorations.
    :param empty_element_name_share: share of elements with an empty name.
    :param caller_workspaces: workspaces the caller is a member of (default: all but the last).
    :param archived_members: members flagged archived.
    :param inactive_members: members flagged inactive.
    :param scheduler_robot: add Sigma's ``SigmaSchedulerRobot`` system member.
    :param account_types: account types listed by ``/v2/accountTypes`` (the pageToken endpoint).
    :param org_slug: organisation slug in workbook URLs.
    """

    seed: int = 42
    workbooks: int = 40
    pages_per_workbook: int = 3
    elements_per_page: int = 5
    members: int = 10
    workspaces: int = 4
    folders_per_workspace: int = 2
    personal_share: float = 0.3
    archived_share: float = 0.1
    exploration_share: float = 0.05
    empty_element_name_share: float = 0.1
    caller_workspaces: int | None = None
    archived_members: int = 1
    inactive_members: int = 1
    scheduler_robot: bool = True
    account_types: int = 6
    org_slug: str = "acme-analytics"

    @classmethod
    def demo(cls, seed: int = 42) -> OrgSpec:
        """A few hundred workbooks: realistic enough for ``make demo``.

        :param seed: seeds every random choice.
        """
        return cls(seed=seed, workbooks=300, members=40, workspaces=6)

    @classmethod
    def benchmark(cls, seed: int = 42) -> OrgSpec:
        """1,000 workbooks x 3 pages x 5 elements.

        :param seed: seeds every random choice.
        """
        return cls(seed=seed, workbooks=1000, pages_per_workbook=3, elements_per_page=5, members=100)


@dataclass(frozen=True)
class Member:
    member_id: str
    email: str
    first_name: str
    last_name: str
    member_type: str
    home_folder_id: str
    organization_id: str
    created_at: str
    updated_at: str
    is_archived: bool = False
    is_inactive: bool = False
    user_kind: str = "internal"

    def to_api(self) -> dict[str, Any]:
        return {
            "organizationId": self.organization_id,
            "memberId": self.member_id,
            "memberType": self.member_type,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "profileImgUrl": None,
            "createdBy": self.member_id,
            "updatedBy": self.member_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "homeFolderId": self.home_folder_id,
            "userKind": self.user_kind,
            "isArchived": self.is_archived,
            "isInactive": self.is_inactive,
        }


@dataclass(frozen=True)
class Workspace:
    workspace_id: str
    name: str
    created_by: str
    created_at: str
    updated_at: str
    member_ids: frozenset[str] = field(default_factory=frozenset)

    def to_api(self) -> dict[str, Any]:
        return {
            "workspaceId": self.workspace_id,
            "name": self.name,
            "createdBy": self.created_by,
            "updatedBy": self.created_by,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass(frozen=True)
class Folder:
    folder_id: str
    url_id: str
    name: str
    path: str
    workspace_id: str


@dataclass(frozen=True)
class Workbook:
    workbook_id: str
    workbook_url_id: str
    name: str
    url: str
    path: str
    owner_id: str
    created_by: str
    updated_by: str
    created_at: str
    updated_at: str
    latest_version: int
    workspace_id: str | None
    is_archived: bool = False
    is_exploration: bool = False

    @property
    def is_personal(self) -> bool:
        """Lives in its owner's My Documents (no workspace)."""
        return self.workspace_id is None

    def to_api(self) -> dict[str, Any]:
        return {
            "workbookId": self.workbook_id,
            "workbookUrlId": self.workbook_url_id,
            "createdBy": self.created_by,
            "updatedBy": self.updated_by,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "name": self.name,
            "url": self.url,
            "path": self.path,
            "latestVersion": self.latest_version,
            "ownerId": self.owner_id,
            "isArchived": self.is_archived,
        }


@dataclass(frozen=True)
class Page:
    page_id: str
    name: str
    hidden: bool = False

    def to_api(self) -> dict[str, Any]:
        return {"pageId": self.page_id, "name": self.name, "hidden": self.hidden}


@dataclass(frozen=True)
class Element:
    element_id: str
    name: str
    type: str
    columns: tuple[str, ...]
    vizualization_type: str | None

    def to_api(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "elementId": self.element_id,
            "name": self.name,
            "type": self.type,
            "columns": list(self.columns),
        }
        if self.vizualization_type is not None:
            entry["vizualizationType"] = self.vizualization_type  # sic: Sigma's spelling
        return entry


@dataclass
class Org:
    """A generated organisation; use :meth:`generate`."""

    spec: OrgSpec
    organization_id: str
    caller: Member
    members: list[Member]
    workspaces: list[Workspace]
    folders: list[Folder]
    workbooks: list[Workbook]
    pages: dict[str, list[Page]]
    elements: dict[tuple[str, str], list[Element]]
    account_types: list[dict[str, Any]]

    @classmethod
    def generate(cls, spec: OrgSpec | None = None) -> Org:
        """Build the organisation described by ``spec`` (default ``OrgSpec()``).

        :param spec: what to generate.
        """
        return _Generator(spec or OrgSpec()).build()

    @cached_property
    def workbook_by_id(self) -> dict[str, Workbook]:
        return {wb.workbook_id: wb for wb in self.workbooks}

    @cached_property
    def workbook_index(self) -> dict[str, int]:
        return {wb.workbook_id: index for index, wb in enumerate(self.workbooks)}

    def personal_space(self, name: str) -> dict[str, Any]:
        """The personal space as some tenants list it among workspaces (e.g. "User Folder").

        :param name: the name it is listed under.
        """
        caller = self.caller
        return {
            "workspaceId": caller.home_folder_id,
            "name": name,
            "createdBy": caller.member_id,
            "updatedBy": caller.member_id,
            "createdAt": caller.created_at,
            "updatedAt": caller.updated_at,
        }

    def member_flags(self) -> dict[str, tuple[bool, bool]]:
        """member id -> (is_archived, is_inactive): the truth behind the listings' filters."""
        return {m.member_id: (m.is_archived, m.is_inactive) for m in self.members}

    @property
    def personal_workbooks(self) -> list[Workbook]:
        return [wb for wb in self.workbooks if wb.is_personal and not wb.is_exploration]

    @property
    def archived_workbooks(self) -> list[Workbook]:
        return [wb for wb in self.workbooks if wb.is_archived]

    @property
    def explorations(self) -> list[Workbook]:
        return [wb for wb in self.workbooks if wb.is_exploration]

    @property
    def page_count(self) -> int:
        return sum(len(pages) for pages in self.pages.values())

    @property
    def element_count(self) -> int:
        return sum(len(elements) for elements in self.elements.values())

    def caller_workspace_ids(self) -> set[str]:
        return {ws.workspace_id for ws in self.workspaces if self.caller.member_id in ws.member_ids}

    def caller_can_access(self, workbook: Workbook, workspace_ids: set[str] | None = None) -> bool:
        """A non-admin caller sees its own My Documents and the workspaces it belongs to.

        :param workbook: the workbook.
        :param workspace_ids: the caller's workspaces, when already computed.
        """
        if workbook.is_exploration:
            return False
        if workbook.is_personal:
            return workbook.owner_id == self.caller.member_id
        mine = self.caller_workspace_ids() if workspace_ids is None else workspace_ids
        return workbook.workspace_id in mine

    def visible_workbooks(
        self,
        *,
        admin: bool,
        skip_permission_check: bool = False,
        exclude_explorations: bool = False,
        is_archived: bool | None = None,
    ) -> list[Workbook]:
        """What ``GET /v2/workbooks`` lists for the caller (the server's own rule, reusable in tests).

        :param admin: the caller has the Admin account type.
        :param skip_permission_check: the query flag (only honoured for admins).
        :param exclude_explorations: the query flag (only meaningful with skip_permission_check).
        :param is_archived: ``True`` lists archived workbooks only; otherwise non-archived only.
        """
        if admin and skip_permission_check:
            listed = [wb for wb in self.workbooks if not (exclude_explorations and wb.is_exploration)]
        else:
            mine = self.caller_workspace_ids()
            listed = [wb for wb in self.workbooks if self.caller_can_access(wb, mine)]
        return [wb for wb in listed if wb.is_archived == bool(is_archived)]

    def visible_workspaces(self, *, admin: bool) -> list[Workspace]:
        """Admins list every workspace; other callers the workspaces they belong to.

        :param admin: the caller has the Admin account type.
        """
        mine = self.caller_workspace_ids()
        return [ws for ws in self.workspaces if admin or ws.workspace_id in mine]

    def listed_members(self, *, include_archived: bool, include_inactive: bool) -> list[Member]:
        """Members ``GET /v2/members`` returns for the given flags.

        :param include_archived: include archived members.
        :param include_inactive: include inactive members.
        """
        return [
            m
            for m in self.members
            if (include_archived or not m.is_archived) and (include_inactive or not m.is_inactive)
        ]


class _Generator:
    def __init__(self, spec: OrgSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, length: int) -> str:
        return "".join(self.rng.choice(BASE62) for _ in range(length))

    def timestamps(self) -> tuple[str, str]:
        created = _EPOCH + timedelta(
            seconds=self.rng.randrange(_SPAN_SECONDS), milliseconds=self.rng.randrange(1000)
        )
        updated = created + timedelta(seconds=self.rng.randrange(90 * 86400))
        return _iso(created), _iso(updated)

    def build(self) -> Org:
        spec = self.spec
        organization_id = self.uid()
        members = self.members(organization_id)
        caller = members[0]
        humans = [m for m in members if m.member_id != "SigmaSchedulerRobot"]
        workspaces = self.workspaces(caller, humans)
        folders = [
            Folder(
                self.uid(), self.token(22), f"Folder {j + 1}", f"{ws.name}/Folder {j + 1}", ws.workspace_id
            )
            for ws in workspaces
            for j in range(spec.folders_per_workspace)
        ]
        workbooks = self.workbooks(caller, humans, workspaces, folders)
        pages: dict[str, list[Page]] = {}
        elements: dict[tuple[str, str], list[Element]] = {}
        for index, wb in enumerate(workbooks):
            pages[wb.workbook_id] = []
            for p in range(spec.pages_per_workbook):
                name = _PAGE_NAMES[p] if p < len(_PAGE_NAMES) else f"Page {p + 1}"
                page = Page(self.token(10), name, hidden=self.rng.random() < 0.05)
                pages[wb.workbook_id].append(page)
                elements[(wb.workbook_id, page.page_id)] = [
                    self.element(force_empty=index == 0 and p == 0 and e == spec.elements_per_page - 1)
                    for e in range(spec.elements_per_page)
                ]
        account_types = [
            {
                "accountTypeId": self.token(12),
                "accountTypeName": _ACCOUNT_TYPES[i] if i < len(_ACCOUNT_TYPES) else f"Custom {i}",
                "description": f"Account type {i + 1}",
                "isCustom": i >= 4,
            }
            for i in range(spec.account_types)
        ]
        return Org(
            spec,
            organization_id,
            caller,
            members,
            workspaces,
            folders,
            workbooks,
            pages,
            elements,
            account_types,
        )

    def members(self, organization_id: str) -> list[Member]:
        spec = self.spec
        created, updated = self.timestamps()
        caller = Member(
            self.token(29), "svc-airflow@acme.example", "Airflow", "Service", "Admin", self.uid(),
            organization_id, created, updated,
        )  # fmt: skip
        members = [caller]
        for i in range(spec.members):
            first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
            created, updated = self.timestamps()
            members.append(
                Member(
                    self.token(29), f"{first}.{last}{i + 1}@acme.example".lower(), first, last,
                    self.rng.choice(_MEMBER_TYPES), self.uid(), organization_id, created, updated,
                    is_archived=i < spec.archived_members,
                    is_inactive=spec.archived_members <= i < spec.archived_members + spec.inactive_members,
                )
            )  # fmt: skip
        if spec.scheduler_robot:
            created, updated = self.timestamps()
            members.append(
                Member(
                    "SigmaSchedulerRobot", "scheduler-robot@sigmacomputing.com", "Scheduler", "Robot",
                    "Admin", self.uid(), organization_id, created, updated, user_kind="system",
                )
            )  # fmt: skip
        return members

    def workspaces(self, caller: Member, humans: list[Member]) -> list[Workspace]:
        spec = self.spec
        joined = spec.caller_workspaces if spec.caller_workspaces is not None else max(1, spec.workspaces - 1)
        result = []
        for i in range(spec.workspaces):
            name = _WORKSPACE_NAMES[i] if i < len(_WORKSPACE_NAMES) else f"Workspace {i + 1}"
            others = [m.member_id for m in humans[1:] if self.rng.random() < 0.5]
            member_ids = frozenset(others + ([caller.member_id] if i < joined else []))
            created, updated = self.timestamps()
            result.append(Workspace(self.uid(), name, humans[-1].member_id, created, updated, member_ids))
        return result

    def workbooks(
        self, caller: Member, humans: list[Member], workspaces: list[Workspace], folders: list[Folder]
    ) -> list[Workbook]:
        spec = self.spec
        n = spec.workbooks
        n_explorations = _share(n, spec.exploration_share)
        n_personal = _share(n, spec.personal_share)
        if not workspaces:
            n_personal = n - n_explorations
        kinds = ["exploration"] * n_explorations + ["personal"] * n_personal
        kinds += ["shared"] * (n - len(kinds))
        kinds = kinds[:n]
        self.rng.shuffle(kinds)
        saved = [i for i, kind in enumerate(kinds) if kind != "exploration"]
        archived = set(self.rng.sample(saved, min(len(saved), _share(n, spec.archived_share))))
        personal_seen = 0
        result = []
        for i, kind in enumerate(kinds):
            topic = f"{self.rng.choice(_TOPICS)} {self.rng.choice(_KINDS)} {i + 1}"
            workspace_id: str | None = None
            if kind == "shared":
                place = self.rng.choice([None, *folders]) if folders else None
                workspace = self.rng.choice(workspaces)
                path = place.path if place else workspace.name
                workspace_id = place.workspace_id if place else workspace.workspace_id
                owner = self.rng.choice(humans)
            else:
                # The first personal workbook belongs to the caller, the second to someone else.
                owner = (
                    caller
                    if kind == "personal" and personal_seen == 0
                    else self.rng.choice(humans[1:] or humans)
                )
                personal_seen += kind == "personal"
                path = MY_DOCUMENTS if self.rng.random() < 0.7 else f"{MY_DOCUMENTS}/Drafts"
            name = f"Exploration {i + 1}" if kind == "exploration" else topic
            url_id = self.token(22)
            created, updated = self.timestamps()
            result.append(
                Workbook(
                    workbook_id=self.uid(),
                    workbook_url_id=url_id,
                    name=name,
                    url=f"https://app.sigmacomputing.com/{spec.org_slug}/workbook/{_slug(name)}-{url_id}",
                    path=path,
                    owner_id=owner.member_id,
                    created_by=owner.member_id,
                    updated_by=self.rng.choice(humans).member_id,
                    created_at=created,
                    updated_at=updated,
                    latest_version=self.rng.randint(1, 40),
                    workspace_id=workspace_id,
                    is_archived=i in archived,
                    is_exploration=kind == "exploration",
                )
            )
        return result

    def element(self, *, force_empty: bool) -> Element:
        kind = self.rng.choice(_ELEMENT_TYPES)
        columns: tuple[str, ...] = ()
        viz: str | None = None
        if kind in ("table", "visualization", "pivot-table"):
            columns = tuple(self.rng.sample(_COLUMNS, self.rng.randint(2, 6)))
            viz = {"table": "levelTable", "pivot-table": "pivotTable"}.get(kind) or self.rng.choice(_VIZ)
        empty = force_empty or self.rng.random() < self.spec.empty_element_name_share
        name = "" if empty else f"{kind.replace('-', ' ').title()} of {self.rng.choice(_COLUMNS)}"
        return Element(self.token(10), name, kind, columns, viz)


def _share(total: int, share: float) -> int:
    """``round(total * share)``, but at least one when the share is positive and there are 4+ items."""
    count = round(total * share)
    if share > 0 and total >= 4:
        count = max(count, 1)
    return min(count, total)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
