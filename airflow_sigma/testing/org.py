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
    :param data_models: data models in shared workspaces (one of them archived when 4 or more).
    :param personal_data_models: data models in someone's My Documents, which ``/v2/dataModels`` does
        not list.
    :param datasets: datasets (the deprecated API; one of them archived when 3 or more).
    :param tables: warehouse tables workbooks and lineage refer to.
    :param teams: teams (one of them archived when 3 or more).
    :param no_lineage_share: share of data elements whose lineage answers 500 ("no lineage").
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
    data_models: int = 6
    personal_data_models: int = 2
    datasets: int = 4
    tables: int = 8
    teams: int = 3
    no_lineage_share: float = 0.1

    @classmethod
    def demo(cls, seed: int = 42) -> OrgSpec:
        """A few hundred workbooks: realistic enough for ``make demo``.

        :param seed: seeds every random choice.
        """
        # Enough data models and tables that some feed only unused workbooks, as in a real organisation.
        return cls(seed=seed, workbooks=300, members=40, workspaces=6, data_models=60, tables=80)

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


@dataclass(frozen=True)
class DataModel:
    data_model_id: str
    url_id: str
    name: str
    url: str
    path: str
    workspace_id: str | None
    owner_id: str
    updated_by: str
    created_at: str
    updated_at: str
    latest_version: int
    is_archived: bool = False

    @property
    def is_personal(self) -> bool:
        return self.workspace_id is None

    def to_api(self) -> dict[str, Any]:
        return {
            "dataModelId": self.data_model_id,
            "dataModelUrlId": self.url_id,
            "name": self.name,
            "url": self.url,
            "path": self.path,
            "latestVersion": self.latest_version,
            "ownerId": self.owner_id,
            "createdBy": self.owner_id,
            "updatedBy": self.updated_by,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "isArchived": self.is_archived,
            "tags": [],
        }


@dataclass(frozen=True)
class Dataset:
    dataset_id: str
    url_id: str
    name: str
    url: str
    created_by: str
    created_at: str
    updated_at: str
    is_archived: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "datasetId": self.dataset_id,
            "createdBy": self.created_by,
            "updatedBy": self.created_by,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "name": self.name,
            "description": f"{self.name} (dataset)",
            "url": self.url,
            "isArchived": self.is_archived,
        }


@dataclass(frozen=True)
class WarehouseTable:
    inode_id: str
    name: str


@dataclass(frozen=True)
class Team:
    team_id: str
    name: str
    visibility: str
    created_by: str
    created_at: str
    updated_at: str
    member_ids: tuple[str, ...]
    is_archived: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "teamId": self.team_id,
            "name": self.name,
            "description": None if self.visibility == "private" else f"The {self.name} team",
            "visibility": self.visibility,
            "createdBy": self.created_by,
            "updatedBy": self.created_by,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "isArchived": self.is_archived,
        }


@dataclass(frozen=True)
class Source:
    """One source of a workbook: ``type`` 'data-model', 'dataset' or 'table', and its id."""

    type: str
    source_id: str
    element_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        if self.type == "data-model":
            return {"type": self.type, "dataModelId": self.source_id, "elementIds": list(self.element_ids)}
        return {"type": self.type, "inodeId": self.source_id}


@dataclass(frozen=True)
class LineageNode:
    node_id: str
    type: str
    name: str | None
    upstream: tuple[str, ...] = ()
    listed: bool = True  # False: only an edge source, missing from ``dependencies`` (data models do this)
    element_id: str | None = None


@dataclass(frozen=True)
class Lineage:
    """An element's lineage graph; ``status`` other than 200 is what the endpoint answers instead."""

    nodes: tuple[LineageNode, ...] = ()
    status: int = 200
    code: str | None = None

    def to_api(self) -> dict[str, Any]:
        dependencies: dict[str, Any] = {}
        for node in self.nodes:
            if not node.listed:
                continue
            entry: dict[str, Any] = {"nodeId": node.node_id, "type": node.type, "name": node.name}
            if node.element_id is not None:
                entry["elementId"] = node.element_id
            dependencies[node.node_id] = entry
        edges = [
            {"source": upstream, "target": node.node_id, "type": "source"}
            for node in self.nodes
            for upstream in node.upstream
        ]
        return {"dependencies": dependencies, "edges": edges}


DATA_ELEMENT_TYPES = frozenset({"table", "visualization", "pivot-table"})


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
    data_models: list[DataModel] = field(default_factory=list)
    datasets: list[Dataset] = field(default_factory=list)
    tables: list[WarehouseTable] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    sources: dict[str, list[Source]] = field(default_factory=dict)
    lineage: dict[tuple[str, str], Lineage] = field(default_factory=dict)

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
    def data_model_by_id(self) -> dict[str, DataModel]:
        """Data models by UUID and by url id (``GET /v2/dataModels/{id}`` accepts either)."""
        by_id = {dm.data_model_id: dm for dm in self.data_models}
        by_id.update({dm.url_id: dm for dm in self.data_models})
        return by_id

    def listed_data_models(self) -> list[DataModel]:
        """What ``GET /v2/dataModels`` lists: personal data models are missing (reference §3.7)."""
        return [dm for dm in self.data_models if not dm.is_personal]

    def visible_workspace_files(self) -> list[dict[str, Any]]:
        """``GET /v2/files?typeFilters=workspace``: only workspaces the caller belongs to, admin or not."""
        mine = self.caller_workspace_ids()
        return [
            {"id": ws.workspace_id, "urlId": ws.workspace_id.replace("-", "")[:22], "name": ws.name,
             "type": "workspace", "parentId": None, "parentUrlId": None, "permission": "view",
             "path": ws.name, "badge": None, "isArchived": False}
            for ws in self.workspaces
            if ws.workspace_id in mine
        ]  # fmt: skip

    def data_elements(self, workbook_id: str) -> list[tuple[str, Element]]:
        """``(page id, element)`` of a workbook's data elements (the ones lineage answers for)."""
        return [
            (page.page_id, element)
            for page in self.pages[workbook_id]
            for element in self.elements[(workbook_id, page.page_id)]
            if element.type in DATA_ELEMENT_TYPES
        ]

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
        org = Org(
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
        _CatalogGenerator(org, random.Random(spec.seed * 7919 + 1)).build()
        return org

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


class _CatalogGenerator:
    """Data models, datasets, tables, teams, workbook sources and lineage, with their own random stream
    (so adding them leaves the rest of an organisation unchanged)."""

    def __init__(self, org: Org, rng: random.Random) -> None:
        self.org = org
        self.rng = rng
        self.humans = [m for m in org.members if m.member_id != "SigmaSchedulerRobot"]

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, length: int) -> str:
        return "".join(self.rng.choice(BASE62) for _ in range(length))

    def timestamps(self) -> tuple[str, str]:
        return _Generator.timestamps(self)  # type: ignore[arg-type]

    def build(self) -> None:
        org, spec = self.org, self.org.spec
        org.tables = [
            WarehouseTable(self.token(21), f"{self.rng.choice(_TOPICS).upper().replace(' ', '_')}_{i + 1}")
            for i in range(spec.tables)
        ]
        org.data_models = [self.data_model(i, personal=False) for i in range(spec.data_models)]
        org.data_models += [self.data_model(i, personal=True) for i in range(spec.personal_data_models)]
        org.datasets = [self.dataset(i) for i in range(spec.datasets)]
        org.teams = [self.team(i) for i in range(spec.teams)]
        for workbook in org.workbooks:
            self.sources_and_lineage(workbook)

    def data_model(self, i: int, *, personal: bool) -> DataModel:
        org, spec = self.org, self.org.spec
        name = f"{self.rng.choice(_TOPICS)} Model {i + 1}" + (" (draft)" if personal else "")
        url_id = self.token(22)
        created, updated = self.timestamps()
        workspace = None if personal or not org.workspaces else self.rng.choice(org.workspaces)
        return DataModel(
            data_model_id=self.uid(),
            url_id=url_id,
            name=name,
            url=f"https://app.sigmacomputing.com/{spec.org_slug}/data-model/{_slug(name)}-{url_id}",
            path=MY_DOCUMENTS if workspace is None else workspace.name,
            workspace_id=None if workspace is None else workspace.workspace_id,
            owner_id=self.rng.choice(self.humans).member_id,
            updated_by=self.rng.choice(self.humans).member_id,
            created_at=created,
            updated_at=updated,
            latest_version=self.rng.randint(1, 20),
            is_archived=not personal and spec.data_models >= 4 and i == spec.data_models - 1,
        )

    def dataset(self, i: int) -> Dataset:
        spec = self.org.spec
        url_id = self.token(21)
        created, updated = self.timestamps()
        return Dataset(
            self.uid(), url_id, f"{self.rng.choice(_TOPICS)} Dataset {i + 1}",
            f"https://app.sigmacomputing.com/{spec.org_slug}/b/{url_id}",
            self.rng.choice(self.humans).member_id, created, updated,
            is_archived=spec.datasets >= 3 and i == spec.datasets - 1,
        )  # fmt: skip

    def team(self, i: int) -> Team:
        spec = self.org.spec
        created, updated = self.timestamps()
        members = tuple(m.member_id for m in self.humans if self.rng.random() < 0.4)
        return Team(
            self.uid(), f"{_WORKSPACE_NAMES[i % len(_WORKSPACE_NAMES)]} Team {i + 1}",
            "private" if i % 2 else "public", self.humans[-1].member_id, created, updated, members,
            is_archived=spec.teams >= 3 and i == spec.teams - 1,
        )  # fmt: skip

    def sources_and_lineage(self, workbook: Workbook) -> None:
        org = self.org
        candidates: list[tuple[str, Any]] = [("data-model", dm) for dm in org.data_models]
        candidates += [("dataset", ds) for ds in org.datasets] + [("table", t) for t in org.tables]
        if not candidates:
            org.sources[workbook.workbook_id] = []
            return
        chosen = self.rng.sample(candidates, min(len(candidates), self.rng.randint(1, 3)))
        users: dict[int, list[str]] = {index: [] for index in range(len(chosen))}
        for position, (_, element) in enumerate(org.data_elements(workbook.workbook_id)):
            index = position % len(chosen)
            key = (workbook.workbook_id, element.element_id)
            if self.rng.random() < org.spec.no_lineage_share:
                org.lineage[key] = Lineage(status=500, code="internal_error")
                continue
            users[index].append(element.element_id)
            kind, source = chosen[index]
            if kind == "dataset" and source.is_archived:
                org.lineage[key] = Lineage(status=409, code="inode_archived")
                continue
            upstream = [self.node(kind, source, listed=position % 2 == 0)]
            if position % 4 == 3 and len(chosen) > 1:
                other = self.node(*chosen[(index + 1) % len(chosen)], listed=True)
                join = LineageNode(self.token(21), "join", "Join", (upstream[0].node_id, other.node_id))
                upstream = [upstream[0], other, join]
            sheet = LineageNode(
                self.token(21), "sheet", element.name, (upstream[-1].node_id,), element_id=element.element_id
            )
            org.lineage[key] = Lineage((*upstream, sheet))
        org.sources[workbook.workbook_id] = [
            Source(kind, _source_id(kind, source), tuple(users[i]) if kind == "data-model" else ())
            for i, (kind, source) in enumerate(chosen)
        ]

    def node(self, kind: str, source: Any, *, listed: bool) -> LineageNode:
        if kind == "data-model":
            return LineageNode(f"{source.url_id}/{self.token(10)}", "data-model", source.name, listed=listed)
        if kind == "dataset":
            return LineageNode(f"inode-{source.url_id}", "dataset", source.name)
        return LineageNode(source.inode_id, "table", source.name)


def _source_id(kind: str, source: Any) -> str:
    if kind == "data-model":
        return str(source.data_model_id)
    return str(source.url_id if kind == "dataset" else source.inode_id)


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
