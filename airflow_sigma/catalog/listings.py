"""The optional parts' listings: data models, datasets, teams and their members, workspaces.

:class:`PartListings` submits every run-wide listing to the discovery's pool at once (so they run beside
the workbook listing), then :meth:`~PartListings.collect` waits for them: a failed run-wide listing fails
the run before anything is fanned out, like the workbook and member listings. Team member listings (one
request per team) and the personal data models that workbook sources name but ``/v2/dataModels`` leaves
out (one request each) come after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_sigma.api.errors import SigmaAPIError, SigmaAuthError, SigmaError
from airflow_sigma.catalog.model import CatalogError, CatalogOptions, Parts
from airflow_sigma.catalog.parts import (
    DataModelRow,
    SourceRow,
    TeamMemberRow,
    data_model_row,
    dataset_row,
    segment,
    team_member_rows,
    team_row,
    workspace_row,
)
from airflow_sigma.catalog.rows import CatalogDataError

if TYPE_CHECKING:
    from airflow_sigma.api.client import SigmaClient

log = logging.getLogger(__name__)
T = TypeVar("T")
Submit = Callable[..., "Future[Any]"]

_GONE = (404, 410)


class PartListings:
    """Run-wide listings of the optional parts, submitted on construction.

    :param client: the Sigma client.
    :param options: which parts to list.
    :param submit: submits a call to the discovery's pool.
    """

    def __init__(self, client: SigmaClient, options: CatalogOptions, submit: Submit) -> None:
        self.client = client
        self.options = options
        self.submit = submit
        size = options.page_size
        self._futures: dict[str, Future[Any]] = {}

        def listing(path: str, query: dict[str, str] | None = None) -> Future[list[dict[str, Any]]]:
            return submit(lambda: list(client.paginate(path, query, page_size=size)))

        if options.include_data_models:
            self._futures["data models"] = listing("/v2/dataModels")
        if options.include_datasets:
            self._futures["datasets"] = listing("/v2/datasets")
        if options.include_teams:
            self._futures["teams"] = listing("/v2/teams")
        if options.include_workspaces or options.workspaces:
            self._futures["workspaces"] = listing("/v2/workspaces")
        if options.include_workspaces:
            self._futures["visible workspaces"] = listing("/v2/files", {"typeFilters": "workspace"})
        self._team_members: list[tuple[str, Future[Any]]] = []

    def workspace_names(self) -> list[str] | None:
        """Names of the listed workspaces (for the workspaces filter check); None when not listed."""
        future = self._futures.get("workspaces")
        if future is None:
            return None
        try:
            return [str(entry.get("name")) for entry in future.result()]
        except SigmaError as exc:
            log.warning("Could not list workspaces to check the workspaces filter: %s", exc)
            return None

    def collect(self, emails: dict[str, str]) -> Parts:
        """Wait for the run-wide listings; raise :class:`CatalogError` when one failed.

        Then start the team member listings (collected by :meth:`finish`).

        :param emails: member id -> email, for owners.
        """
        wait(self._futures.values())
        parts = Parts()
        options = self.options
        if options.include_data_models:
            entries = result_of(self._futures["data models"], "data models")
            parts.data_models = _unique([data_model_row(e, emails) for e in entries], "data models")
        if options.include_datasets:
            parts.datasets = self._datasets()
        if options.include_teams:
            teams = result_of(self._futures["teams"], "teams")
            parts.teams = _unique([team_row(e) for e in teams], "teams")
            for team in parts.teams:
                self._team_members.append((team.team_id, self.submit(self._list_team_members, team.team_id)))
        if options.include_workspaces:
            files = result_of(self._futures["visible workspaces"], "workspaces (GET /v2/files)")
            visible = {str(entry.get("id")) for entry in files}
            entries = result_of(self._futures["workspaces"], "workspaces")
            parts.workspaces = _unique([workspace_row(e, visible) for e in entries], "workspaces")
        return parts

    def finish(self, parts: Parts, sources: Iterable[SourceRow] | None, emails: dict[str, str]) -> int:
        """Collect team members and fetch the personal data models sources name; return how many of
        those could not be fetched.

        :param parts: the parts from :meth:`collect`, completed in place.
        :param sources: the workbook source rows (None when not listed).
        :param emails: member id -> email, for owners.
        """
        if self.options.include_teams:
            members: list[TeamMemberRow] = []
            for team_id, future in self._team_members:
                members.extend(result_of(future, f"members of team {team_id}"))
            parts.team_members = members
        if parts.data_models is None or sources is None:
            return 0
        known = {row.data_model_id for row in parts.data_models}
        known |= {row.data_model_url_id for row in parts.data_models if row.data_model_url_id}
        missing = sorted({s.source_id for s in sources if s.source_type == "data-model"} - known)
        if not missing:
            return 0
        futures = [
            (model_id, self.submit(self.client.get, f"/v2/dataModels/{segment(model_id)}"))
            for model_id in missing
        ]
        unresolved: list[str] = []
        fetched: list[DataModelRow] = []
        for model_id, future in futures:
            try:
                fetched.append(data_model_row(future.result(), emails))
            except (SigmaAuthError, CatalogDataError):
                raise
            except SigmaAPIError as exc:
                if exc.status == 401:
                    raise
                unresolved.append(f"{model_id} ({f'HTTP {exc.status}' if exc.status else 'no answer'})")
        fetched = [row for row in fetched if row.data_model_id not in known]
        parts.data_models = _unique([*parts.data_models, *fetched], "data models")
        log.info(
            "%d data models used by workbooks are not in /v2/dataModels (personal ones are left out): "
            "fetched %d one by one",
            len(missing), len(fetched),
        )  # fmt: skip
        if unresolved:
            log.warning(
                "%d data models named by workbook sources could not be fetched: %s",
                len(unresolved), ", ".join(unresolved[:20]),
            )  # fmt: skip
        return len(unresolved)

    def _datasets(self) -> Any:
        try:
            entries = self._futures["datasets"].result()
        except SigmaAPIError as exc:
            if exc.status not in _GONE:
                raise listing_failed("datasets", exc) from exc
            log.warning(
                "Sigma's deprecated datasets API answered HTTP %s: sigma_datasets is not written for this "
                "snapshot (set include_datasets=False to stop asking)",
                exc.status,
            )
            return None
        except (SigmaError, CatalogDataError) as exc:
            raise listing_failed("datasets", exc) from exc
        return _unique([dataset_row(e) for e in entries], "datasets")

    def _list_team_members(self, team_id: str) -> list[TeamMemberRow]:
        path = f"/v2/teams/{segment(team_id)}/members"
        return team_member_rows(team_id, self.client.paginate(path, page_size=self.options.page_size))


def _unique(rows: list[T], what: str) -> list[T]:
    """Rows with a first field (the id) seen before are dropped, and counted."""
    seen: dict[Any, T] = {}
    for row in rows:
        seen.setdefault(row[0], row)  # type: ignore[index]
    if len(seen) < len(rows):
        log.warning("Sigma listed %d %s more than once; each is kept once", len(rows) - len(seen), what)
    return list(seen.values())


def result_of(future: Future[T], what: str) -> T:
    try:
        return future.result()
    except (SigmaError, CatalogDataError) as exc:
        raise listing_failed(what, exc) from exc


def listing_failed(what: str, exc: BaseException) -> CatalogError:
    return CatalogError(
        f"Listing Sigma {what} failed, so the catalog would be incomplete: nothing is written and the "
        f"previous snapshots stay as they are. Cause: {exc}"
    )
