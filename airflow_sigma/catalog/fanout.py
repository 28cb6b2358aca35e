"""List the pages, elements, sources and element lineage of many workbooks with a fixed number of workers.

Each of ``max_concurrency`` workers (run in the caller's ``concurrent.futures`` pool) takes one job
at a time: list a workbook's pages or its sources, list one page's elements, or get one element's
lineage. A worker that receives a page (or element) list queues that workbook's next jobs, which are
taken before any new workbook is started; so one workbook's requests are pipelined with other
workbooks', open work stays small, and a worker goes straight on to its next job without a round trip
through a coordinating thread.

Element lineage answers 500 ("no lineage", Sigma's ordinary reply), 400 (not a data element), 403, 404
or 409 (``inode_archived``) per element: those are counted by reason, not errors.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Executor, wait
from typing import TYPE_CHECKING, Any

from airflow_sigma.api.errors import SigmaAPIError, SigmaAuthError, SigmaConnectionError
from airflow_sigma.catalog.model import (
    CatalogIncompleteError,
    CatalogOptions,
    SkippedWorkbook,
    describe_skipped,
)
from airflow_sigma.catalog.parts import (
    DATA_ELEMENT_TYPES,
    LineageRow,
    SourceRow,
    lineage_rows,
    segment,
    source_rows,
)
from airflow_sigma.catalog.progress import ProgressLog
from airflow_sigma.catalog.rows import CatalogDataError, ElementRow, Page, WorkbookRow, element_row, page_of
from airflow_sigma.exceptions import is_retryable

if TYPE_CHECKING:
    from airflow_sigma.api.client import SigmaClient

log = logging.getLogger(__name__)


_NO_LINEAGE = {
    500: "no lineage (HTTP 500)",
    400: "not a data element (HTTP 400)",
    403: "not accessible (HTTP 403)",
    404: "not found (HTTP 404)",
    409: "source archived (HTTP 409)",
}


class _Work:
    """One workbook while its pages, elements, sources and lineage are being listed."""

    __slots__ = ("elements", "finished", "lineage", "pages", "row", "sources", "waiting")

    def __init__(self, row: WorkbookRow) -> None:
        self.row = row
        self.pages: list[Page] = []
        self.elements: dict[str, list[ElementRow]] = {}
        self.sources: list[SourceRow] = []
        self.lineage: dict[str, list[LineageRow]] = {}
        self.waiting = 0
        self.finished = False


# (workbook, kind, argument): "pages" and "sources" take None, "elements" a Page, "lineage" an ElementRow.
_Job = tuple[_Work, str, Any]


class ElementFanOut:
    """Lists pages and elements (and sources, lineage, as ``options`` say) of ``workbooks``; see :meth:`run`.

    :param client: the Sigma client (thread-safe, ``pool_size >= options.max_concurrency``).
    :param options: concurrency, page size, skip tolerance, progress interval.
    :param workbooks: the workbooks, in the order their elements are returned.
    """

    def __init__(self, client: SigmaClient, options: CatalogOptions, workbooks: list[WorkbookRow]) -> None:
        self.client = client
        self.options = options
        self.works = [_Work(row) for row in workbooks]
        self.total = len(workbooks)
        self.allowed_skips = int(options.max_skipped_fraction * self.total)
        self.skipped: list[SkippedWorkbook] = []
        self.pages = 0
        self.done = 0
        self.sources: list[SourceRow] = []
        self.lineage: list[LineageRow] = []
        self.no_lineage: Counter[str] = Counter()
        self._no_lineage_samples: list[str] = []
        self._fresh: Iterator[_Work] = iter(self.works)
        self._queued: deque[_Job] = deque()
        self._active = 0
        self._error: BaseException | None = None
        self._condition = threading.Condition()
        self._progress = ProgressLog(self.total, log, interval=options.progress_interval)

    def run(self, pool: Executor) -> list[ElementRow]:
        """Run ``max_concurrency`` workers in ``pool``; return element rows grouped by workbook.

        Raises :class:`CatalogIncompleteError` when too many workbooks are skipped, and any error that
        is not scoped to one workbook (authentication, bugs) as it is.

        :param pool: an executor with at least ``max_concurrency`` threads.
        """
        workers = min(self.options.max_concurrency, max(self.total, 1))
        log.info(
            "Listing pages and elements of %d workbooks, at most %d requests at once", self.total, workers
        )
        futures = [pool.submit(self._worker) for _ in range(workers)]
        wait(futures)
        for future in futures:
            future.result()  # a worker itself never raises; this surfaces a bug if it did
        if self._error is not None:
            raise self._error
        if self.no_lineage:
            log.info(
                "%d data elements have no lineage rows: %s (e.g. %s)",
                sum(self.no_lineage.values()),
                ", ".join(f"{count} {reason}" for reason, count in sorted(self.no_lineage.items())),
                ", ".join(self._no_lineage_samples),
            )
        return self._ordered_elements()

    # -- workers ------------------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            with self._condition:
                job = self._take()
                if job is None:
                    return
                self._active += 1
            result: list[Any] | None = None
            error: BaseException | None = None
            try:
                result = self._fetch(job)
            except BaseException as exc:
                error = exc
            with self._condition:
                self._active -= 1
                try:
                    self._handle(job, result, error)
                except BaseException as exc:
                    self._error = self._error or exc
                self._condition.notify_all()

    def _take(self) -> _Job | None:
        """The next job, waiting while others may still queue some; None when all is done."""
        while self._error is None:
            while self._queued:
                job = self._queued.popleft()
                if not job[0].finished:
                    return job
            work = next(self._fresh, None)
            if work is not None:
                return self._start(work)
            if self._active == 0:
                return None
            self._condition.wait()
        return None

    def _start(self, work: _Work) -> _Job:
        """The first job of a fresh workbook; its other first jobs are queued to be taken next."""
        jobs: list[_Job] = []
        if self.options.include_elements:
            jobs.append((work, "pages", None))
        if self.options.include_workbook_sources:
            jobs.append((work, "sources", None))
        work.waiting = len(jobs)
        self._queued.extendleft(reversed(jobs[1:]))
        return jobs[0]

    def _fetch(self, job: _Job) -> list[Any]:
        work, kind, argument = job
        workbook_id = work.row.workbook_id
        size = self.options.page_size
        if kind == "pages":
            return [page_of(entry) for entry in self.client.list_workbook_pages(workbook_id, page_size=size)]
        if kind == "sources":
            return source_rows(self.client.get(f"/v2/workbooks/{segment(workbook_id)}/sources"), work.row)
        if kind == "lineage":
            element_id = argument.element_id
            path = f"/v2/workbooks/{segment(workbook_id)}/lineage/elements/{segment(element_id)}"
            return lineage_rows(self.client.get(path), work.row, element_id)
        entries = self.client.list_page_elements(workbook_id, argument.page_id, page_size=size)
        return [element_row(entry, work.row, argument) for entry in entries]

    def _handle(self, job: _Job, result: list[Any] | None, error: BaseException | None) -> None:
        work, kind, argument = job
        if work.finished:
            return  # another listing of this workbook already failed
        if error is not None and kind == "lineage" and _no_lineage(error):
            assert isinstance(error, SigmaAPIError) and error.status is not None
            self.no_lineage[_NO_LINEAGE[error.status]] += 1
            if len(self._no_lineage_samples) < 5:
                self._no_lineage_samples.append(f"{argument.element_id} of {work.row.workbook_id}")
            result, error = [], None
        if error is not None:
            self._finish(work, _scoped_failure(error, kind, argument), _skip_is_transient(error))
            return
        follow: list[_Job] = []
        if kind == "pages":
            work.pages = result or []
            follow = [(work, "elements", page) for page in work.pages]
        elif kind == "elements":
            work.elements[argument.page_id] = result or []
            if self.options.include_element_lineage:
                follow = [(work, "lineage", e) for e in result or [] if e.type in DATA_ELEMENT_TYPES]
        elif kind == "sources":
            work.sources = result or []
        else:
            work.lineage[argument.element_id] = result or []
        work.waiting += len(follow) - 1
        self._queued.extend(follow)
        if work.waiting == 0:
            self._finish(work)

    def _finish(self, work: _Work, failure: str | None = None, transient: bool = True) -> None:
        work.finished = True
        self.done += 1
        if failure is None:
            self.pages += len(work.pages)
        else:
            work.elements.clear()
            work.sources, work.lineage = [], {}
            self.skipped.append(SkippedWorkbook(work.row.workbook_id, work.row.name, failure, transient))
            log.warning(
                "Skipping the elements of workbook %r (%s): %s", work.row.name, work.row.workbook_id, failure
            )
            if len(self.skipped) > self.allowed_skips:
                raise _incomplete(self.skipped, self.total, self.allowed_skips, self.options)
        self._progress.update(self.done, len(self.skipped))

    def _ordered_elements(self) -> list[ElementRow]:
        rows: list[ElementRow] = []
        duplicates = 0
        for work in self.works:
            for page in work.pages:
                seen: set[str] = set()
                for row in work.elements.get(page.page_id, ()):
                    if row.element_id in seen:
                        duplicates += 1
                        continue
                    seen.add(row.element_id)
                    rows.append(row)
                    self.lineage.extend(work.lineage.get(row.element_id, ()))
            self.sources.extend(work.sources)
            work.elements.clear()
            work.sources, work.lineage = [], {}
        if duplicates:
            log.warning("Sigma listed %d elements twice on the same page; each is kept once", duplicates)
        return rows


def _no_lineage(error: BaseException) -> bool:
    return isinstance(error, SigmaAPIError) and error.status in _NO_LINEAGE


def _incomplete(
    skipped: list[SkippedWorkbook], total: int, allowed: int, options: CatalogOptions
) -> CatalogIncompleteError:
    terminal = sum(1 for s in skipped if not s.retryable)
    if terminal > allowed:
        verdict = (
            f"{terminal} of them failed for a reason a retry cannot fix (HTTP 403: share those workbooks "
            f"with the credentials' owner or add the owner to their workspace; HTTP 400 or an unusable "
            f"answer: see each reason), more than allowed, so the task is not retried. Fix those, or "
            f"raise max_skipped_fraction"
        )
    else:
        verdict = (
            f"{len(skipped) - terminal} of them failed transiently (HTTP 5xx or 429, no answer, or a "
            f"workbook deleted during the run), so the task is retried"
        )
    return CatalogIncompleteError(
        f"{len(skipped)} of {total} workbooks could not be fully listed, more than "
        f"max_skipped_fraction={options.max_skipped_fraction} allows ({allowed}); stopping and writing "
        f"nothing. {verdict}. Skipped so far: {describe_skipped(skipped)}",
        skipped=skipped,
        allowed=allowed,
    )


def _skip_is_transient(error: BaseException) -> bool:
    """Whether a later run may list the workbook: the failure is retryable, or a 404 (the workbook or
    page was deleted while the run listed it, and the next run will not list it)."""
    return is_retryable(error) or (isinstance(error, SigmaAPIError) and error.status == 404)


def _scoped_failure(error: BaseException, kind: str, argument: Any) -> str:
    """Why a workbook is skipped; re-raises ``error`` when it is not scoped to one workbook."""
    scoped = isinstance(error, CatalogDataError) or (
        isinstance(error, SigmaAPIError) and not isinstance(error, SigmaAuthError) and error.status != 401
    )
    if not scoped:
        raise error
    where = {
        "pages": "pages",
        "sources": "sources",
        "elements": f"elements of page {getattr(argument, 'page_id', '')}",
        "lineage": f"lineage of element {getattr(argument, 'element_id', '')}",
    }[kind]
    if isinstance(error, SigmaAPIError) and error.status is not None:
        return f"{where}: HTTP {error.status}" + (f" ({error.code})" if error.code else "")
    if isinstance(error, SigmaConnectionError):
        return f"{where}: no response ({type(error).__name__})"
    return f"{where}: {error}"
