"""Realistic Sigma audit-log export files, generated deterministically, with their ground truth.

Used by ``make demo``, the end-to-end tests and the benchmarks. A generated export looks like what
an admin gets from a scheduled export of the audit log (or of a page built on it): one CSV (or
CSV.gz) per export run, its name prefixed with the run's date and time, each run covering the last
``window_hours`` of events, so consecutive files overlap and repeat events.

Two shapes:

* ``"prepared"``: the one-row-per-impression shape of PRODUCT.md (request_time, user_email,
  workbook_url_id, element_id, count); identity is (time, user, workbook, element).
* ``"audit"``: raw audit-log rows of several categories with an event id; impressions are the
  OBJECT_INTERACTION view events, logins are ACCESS_SIGMA events; other categories are noise.

Users are skewed towards a working set of workbooks they keep revisiting, and workbook popularity
follows a Zipf-like law, so a few workbooks get most views and many get none.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

PREPARED_HEADER = ("request_time", "user_email", "workbook_url_id", "element_id", "count")
AUDIT_HEADER = (
    "Event Id",
    "Request Time",
    "Event Type",
    "Event Name",
    "Event Status",
    "User Email",
    "Object Id",
    "Object Name",
    "Object Type",
    "Workbook URL Id",
    "Element Id",
    "Count",
    "Event Status Reason Code",
    "Client IP",
)
VIEW_EVENT = ("OBJECT_INTERACTION", "view_workbook", "SUCCESS")
#: Views that showed the user nothing: not impressions.
FAILED_VIEW_EVENTS = (
    ("OBJECT_INTERACTION", "view_workbook", "FAILURE"),
    ("OBJECT_INTERACTION", "view_workbook", "PERMISSION_DENIED"),
)
OTHER_EVENTS = (
    ("QUERY_EXECUTIONS", "run_query", "SUCCESS"),
    ("PUBLIC_API", "list_workbooks", "SUCCESS"),
    ("EXPORTS", "export_workbook", "SUCCESS"),
    ("TEAMS", "add_team_member", "SUCCESS"),
    ("AI_CONVERSATIONS", "ask_question", "SUCCESS"),  # a category Sigma added later
)


@dataclass(frozen=True)
class ExportSpec:
    """What to generate. ``workbooks`` maps workbook_url_id -> element ids."""

    workbooks: dict[str, Sequence[str]]
    users: Sequence[str]
    start: date
    days: int
    events_per_day: int
    files: int
    shape: str = "audit"
    window_hours: int = 36
    element_share: float = 0.6
    multi_count_share: float = 0.05
    logins_per_user_day: float = 1.2
    failed_login_share: float = 0.1
    noise_share: float = 0.1
    failed_view_share: float = 0.0
    bad_rows: int = 0
    gzip_every: int = 0
    export_lag_minutes: int = 90
    file_stem: str = "sigma_audit_log"
    seed: int = 7
    record_activity: bool = False  # keep every view and login in GroundTruth.activity (memory!)


@dataclass
class GroundTruth:
    """What a correct pipeline must compute from the files, after deduplication."""

    # (day, workbook_url_id, element_id or "", user_email) -> impressions
    impressions: Counter[tuple[date, str, str, str]] = field(default_factory=Counter)
    # day -> [successful, failed, distinct users with a successful login]
    logins: dict[date, list[int]] = field(default_factory=dict)
    # with ExportSpec.record_activity: (time, user_email as written, kind), kind one of "view", "login",
    # "failed_login", "failed_view"
    activity: list[tuple[datetime, str, str]] = field(default_factory=list)
    events: int = 0
    failed_views: int = 0
    bad_rows: int = 0
    rows_written: int = 0
    files: list[Path] = field(default_factory=list)

    def workbook_totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (_, wb, _, _), n in self.impressions.items():
            totals[wb] += n
        return totals


@dataclass(frozen=True)
class _Event:
    at: datetime
    row: tuple[str, ...]


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _events(spec: ExportSpec, truth: GroundTruth) -> list[_Event]:
    rng = random.Random(spec.seed)
    wb_ids = sorted(spec.workbooks)
    popularity = [1.0 / (rank + 1) ** 1.1 for rank in range(len(wb_ids))]
    rng.shuffle(popularity)
    working_sets = {
        user: rng.choices(wb_ids, weights=popularity, k=max(3, min(25, len(wb_ids) // 4 or 1)))
        for user in spec.users
    }
    start = datetime.combine(spec.start, datetime.min.time(), tzinfo=timezone.utc)
    span_us = spec.days * 86_400_000_000
    offsets = sorted(rng.sample(range(span_us), spec.events_per_day * spec.days))
    events: list[_Event] = []
    for n, offset in enumerate(offsets):
        at = start + timedelta(microseconds=offset)
        user = rng.choice(spec.users)
        wb = rng.choice(working_sets[user]) if rng.random() < 0.85 else rng.choices(wb_ids, popularity)[0]
        elements = spec.workbooks[wb]
        element = rng.choice(elements) if elements and rng.random() < spec.element_share else ""
        count = rng.randint(2, 5) if rng.random() < spec.multi_count_share else 1
        truth.impressions[(at.date(), wb, element, user)] += count
        if spec.record_activity:
            truth.activity.append((at, user, "view"))
        events.append(
            _Event(at, _row(spec, f"ev-{spec.seed}-{n:09d}", at, VIEW_EVENT, user, wb, element, count))
        )
    if spec.shape == "audit":
        events.extend(_audit_only_events(spec, rng, start, truth))
        events.extend(_failed_views(spec, wb_ids, start, truth))
        events.sort(key=lambda e: e.at)
    truth.events = len(events)
    return events


def _row(
    spec: ExportSpec,
    event_id: str,
    at: datetime,
    kind: tuple[str, str, str],
    user: str,
    wb: str = "",
    element: str = "",
    count: int = 1,
) -> tuple[str, ...]:
    if spec.shape == "prepared":
        return (_iso(at), user, wb, element, "" if count == 1 and element else str(count))
    event_type, event_name, status = kind
    object_type = "workbook" if wb else ""
    reason = "INVALID_PASSWORD" if status == "FAILURE" else ""
    return (event_id, _iso(at), event_type, event_name, status, user, wb, wb and f"Workbook {wb[:6]}",
            object_type, wb, element, str(count), reason, "10.0.0.1")  # fmt: skip


def _audit_only_events(
    spec: ExportSpec, rng: random.Random, start: datetime, truth: GroundTruth
) -> list[_Event]:
    out: list[_Event] = []
    n = 0
    for day in range(spec.days):
        day_start = start + timedelta(days=day)
        ok_users: set[str] = set()
        counts = [0, 0]
        for user in spec.users:
            for _ in range(int(spec.logins_per_user_day + rng.random())):
                at = day_start + timedelta(microseconds=rng.randrange(86_400_000_000))
                failed = rng.random() < spec.failed_login_share
                kind = ("ACCESS_SIGMA", "login", "FAILURE" if failed else "SUCCESS")
                out.append(_Event(at, _row(spec, f"lg-{spec.seed}-{n:09d}", at, kind, user)))
                n += 1
                counts[failed] += 1
                if spec.record_activity:
                    truth.activity.append((at, user, "failed_login" if failed else "login"))
                if not failed:
                    ok_users.add(user)
        truth.logins[day_start.date()] = [counts[0], counts[1], len(ok_users)]
        for _ in range(int(spec.events_per_day * spec.noise_share)):
            at = day_start + timedelta(microseconds=rng.randrange(86_400_000_000))
            kind = rng.choice(OTHER_EVENTS)
            out.append(_Event(at, _row(spec, f"ot-{spec.seed}-{n:09d}", at, kind, rng.choice(spec.users))))
            n += 1
    return out


def _failed_views(spec: ExportSpec, wb_ids: list[str], start: datetime, truth: GroundTruth) -> list[_Event]:
    """Views that failed (``failed_view_share`` of the views, drawn apart so other events stay the same)."""
    rng = random.Random(spec.seed + 1)
    out = []
    for n in range(int(spec.events_per_day * spec.days * spec.failed_view_share)):
        at = start + timedelta(microseconds=rng.randrange(spec.days * 86_400_000_000))
        kind = FAILED_VIEW_EVENTS[n % len(FAILED_VIEW_EVENTS)]
        user = rng.choice(spec.users)
        out.append(_Event(at, _row(spec, f"fv-{spec.seed}-{n:09d}", at, kind, user, rng.choice(wb_ids))))
        if spec.record_activity:
            truth.activity.append((at, user, "failed_view"))
    truth.failed_views = len(out)
    return out


def _bad_row(spec: ExportSpec, kind: int, at: datetime) -> tuple[str, ...]:
    good = _row(spec, f"bad-{kind}-{_iso(at)}", at, VIEW_EVENT, "someone@example.com", "badWorkbook0000")
    time_col = 0 if spec.shape == "prepared" else 1
    email_col = 1 if spec.shape == "prepared" else 5
    if kind % 3 == 0:
        return tuple("yesterday-ish" if i == time_col else v for i, v in enumerate(good))
    if kind % 3 == 1:
        return tuple("" if i == email_col else v for i, v in enumerate(good))
    return good[:-2]  # wrong number of fields


def newest_landed_day(export_lag_minutes: int = ExportSpec.export_lag_minutes) -> date:
    """The newest UTC day whose midnight export (written by :func:`write_exports` with this lag) has
    landed by now, with 10 minutes to spare: today, but yesterday in the first hours after midnight.

    Exports written for the days before it, and ``airflow dags test <dag> <that day>``, give a run
    whose sensor finds the export after its interval at once; with today's date just after midnight
    it would wait for a file whose time is still in the future.
    """
    return (datetime.now(timezone.utc) - timedelta(minutes=export_lag_minutes + 10)).date()


def write_exports(directory: str | os.PathLike[str], spec: ExportSpec) -> GroundTruth:
    """Write ``spec.files`` export files into ``directory`` and return the ground truth.

    File *i* is the export run at the end of its slice of the period; it contains every event of the
    previous ``window_hours``, so files overlap. Each file's mtime is set to its export time plus the
    export lag, as if it had just landed.
    """
    truth = GroundTruth()
    events = _events(spec, truth)
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = datetime.combine(spec.start, datetime.min.time(), tzinfo=timezone.utc)
    slice_len = timedelta(days=spec.days) / spec.files
    window = timedelta(hours=spec.window_hours)
    if window < slice_len:
        raise ValueError(f"window_hours={spec.window_hours} leaves gaps between {spec.files} files")
    header = PREPARED_HEADER if spec.shape == "prepared" else AUDIT_HEADER
    lo = 0
    bad_left = spec.bad_rows
    for i in range(spec.files):
        run_at = start + slice_len * (i + 1)
        while lo < len(events) and events[lo].at < run_at - window:
            lo += 1
        rows: Iterator[tuple[str, ...]] = (e.row for e in events[lo:] if e.at < run_at)
        bad = [_bad_row(spec, k, run_at) for k in range(bad_left if i == spec.files - 1 else 0)]
        gz = bool(spec.gzip_every) and (i + 1) % spec.gzip_every == 0
        name = f"{run_at:%Y-%m-%d-%H%M%S}_{spec.file_stem}.csv" + (".gz" if gz else "")
        path = out_dir / name
        written = _write_csv(path, header, rows, bad, gz)
        truth.rows_written += written
        truth.files.append(path)
        landed = (run_at + timedelta(minutes=spec.export_lag_minutes)).timestamp()
        os.utime(path, (landed, landed))
    truth.bad_rows = bad_left
    return truth


def _write_csv(
    path: Path, header: Sequence[str], rows: Iterator[tuple[str, ...]], bad: list[tuple[str, ...]], gz: bool
) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    writer.writerows(bad)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return n + len(bad)
