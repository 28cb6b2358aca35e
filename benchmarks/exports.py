"""Large impression exports for the benchmarks, generated with numpy and written by pyarrow.

:mod:`airflow_sigma.testing.exports` builds exports row by row with their ground truth, which suits
tests; millions of rows need a vectorised generator. The shape is the same: the prepared impression
columns, one file per export run, each run covering the last ``window_hours`` of events, so
consecutive files overlap and repeat events. Users have skewed activity and keep revisiting their
own working set of workbooks; workbook popularity follows a Zipf-like law, so a few workbooks get
most views and many get none.

Generated files are cached under ``benchmarks/data/`` in a folder named after the parameters; a
``manifest.json`` written last marks the folder complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import string
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from airflow_sigma.testing.exports import PREPARED_HEADER

DATA_DIR = Path(__file__).resolve().parent / "data"
GENERATOR_VERSION = 1  # part of the cache key: bump it when the generated files change
_BASE62 = np.frombuffer((string.digits + string.ascii_letters).encode(), dtype=np.uint8)
_MICROS_PER_HOUR = 3_600_000_000
_EXPORT_LAG = timedelta(minutes=90)


@dataclass(frozen=True)
class ImpressionData:
    """What to generate.

    :param rows: rows over all files (events repeated by overlapping files count each time).
    :param days: UTC days covered, ending the day before ``start + days``.
    :param files_per_day: export runs per day (evenly spaced).
    :param window_hours: hours of events each run exports (more than the spacing: files overlap).
    :param users: distinct viewers.
    :param workbooks: distinct workbooks.
    :param elements_per_workbook: elements of each workbook.
    :param element_share: share of impressions of an element (the rest are of the workbook).
    :param working_set_share: share of a user's views that go to their own working set.
    :param start: first day.
    :param seed: seeds every random choice.
    """

    rows: int
    days: int = 6
    files_per_day: int = 4
    window_hours: int = 12
    users: int = 3_000
    workbooks: int = 5_000
    elements_per_workbook: int = 20
    element_share: float = 0.6
    working_set_share: float = 0.85
    start: date = date(2026, 3, 2)
    seed: int = 11

    @property
    def files(self) -> int:
        return self.days * self.files_per_day

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def folder(self) -> Path:
        """Where these files are cached."""
        described = json.dumps({"generator": GENERATOR_VERSION, **asdict(self)}, default=str, sort_keys=True)
        key = hashlib.sha256(described.encode()).hexdigest()
        return DATA_DIR / f"impressions-{self.rows}-{self.days}d-{key[:10]}"


def ensure_exports(spec: ImpressionData) -> tuple[Path, dict[str, int]]:
    """The folder of ``spec``'s files, generated unless cached; and its manifest (rows, events, bytes)."""
    folder = spec.folder()
    manifest = folder / "manifest.json"
    if manifest.exists():
        return folder, json.loads(manifest.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    facts = _generate(spec, folder)
    manifest.write_text(json.dumps(facts, indent=1))
    return folder, facts


def _codes(rng: np.random.Generator, count: int, length: int) -> pa.Array:
    """``count`` random base62 strings of ``length`` characters."""
    chars = _BASE62[rng.integers(0, len(_BASE62), size=(count, length))]
    offsets = np.arange(0, count * length + 1, length, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _zipf_weights(rng: np.random.Generator, count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    rng.shuffle(weights)
    return weights / weights.sum()


def _events(spec: ImpressionData, rng: np.random.Generator, count: int) -> tuple[pa.Table, np.ndarray]:
    """``count`` distinct impression events sorted by time, and their microseconds since the start."""
    emails = pa.array([f"{_name(i)}{i + 1}@acme.example" for i in range(spec.users)])
    url_ids = _codes(rng, spec.workbooks, 22)
    element_ids = _codes(rng, spec.workbooks * spec.elements_per_workbook, 10)
    popularity = _zipf_weights(rng, spec.workbooks, 1.1)
    activity = rng.lognormal(0.0, 1.0, spec.users)
    activity /= activity.sum()
    # Each user's working set: 3..25 workbooks drawn by popularity.
    set_sizes = rng.integers(3, 26, spec.users)
    working_sets = rng.choice(spec.workbooks, size=(spec.users, 25), p=popularity)

    span = spec.days * 24 * _MICROS_PER_HOUR
    micros = np.sort(rng.integers(0, span, count))
    user = rng.choice(spec.users, count, p=activity)
    own = working_sets[user, (rng.random(count) * set_sizes[user]).astype(np.int64)]
    anywhere = rng.choice(spec.workbooks, count, p=popularity)
    workbook = np.where(rng.random(count) < spec.working_set_share, own, anywhere)
    element_rank = np.minimum(rng.geometric(0.2, count) - 1, spec.elements_per_workbook - 1)
    element = pc.if_else(
        pa.array(rng.random(count) < spec.element_share),
        element_ids.take(pa.array(workbook * spec.elements_per_workbook + element_rank)),
        "",
    )
    counts = np.where(rng.random(count) < 0.05, rng.integers(2, 6, count), 1)
    start = datetime.combine(spec.start, datetime.min.time())
    stamps = pa.array(micros + int(start.replace(tzinfo=timezone.utc).timestamp() * 1e6), pa.timestamp("us"))
    text = stamps.cast(pa.string())  # YYYY-MM-DD HH:MM:SS.ffffff
    request_time = pc.binary_join_element_wise(pc.utf8_replace_slice(text, 10, 11, "T"), "Z", "")
    table = pa.table(
        [request_time, emails.take(pa.array(user)), url_ids.take(pa.array(workbook)), element, counts],
        names=list(PREPARED_HEADER),
    )
    return table, micros


def _name(i: int) -> str:
    first = ("ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "radia", "tim")
    last = ("lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson", "perlman")
    return f"{first[i % len(first)]}.{last[(i * 7) % len(last)]}"


def _generate(spec: ImpressionData, folder: Path) -> dict[str, int]:
    rng = np.random.default_rng(spec.seed)
    spacing = 24 * _MICROS_PER_HOUR // spec.files_per_day
    window = spec.window_hours * _MICROS_PER_HOUR
    if window < spacing:
        raise ValueError(f"window_hours={spec.window_hours} leaves gaps between the exports")
    span = spec.days * 24 * _MICROS_PER_HOUR
    # Rows per event = the share of runs whose window covers it (the last runs' windows are cut short).
    ends = spacing * np.arange(1, spec.files + 1)
    covered = np.minimum(ends, span) - np.maximum(ends - window, 0)
    events = max(1, round(spec.rows * span / int(covered.sum())))
    table, offsets = _events(spec, rng, events)
    start = datetime.combine(spec.start, datetime.min.time(), tzinfo=timezone.utc)
    written = size = 0
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    for end in ends:
        lo, hi = np.searchsorted(offsets, [end - window, end])
        run_at = start + timedelta(microseconds=int(end))
        path = folder / f"{run_at:%Y-%m-%d-%H%M%S}_sigma_impressions.csv"
        pa_csv.write_csv(table.slice(lo, hi - lo), path, options)
        landed = (run_at + _EXPORT_LAG).timestamp()
        os.utime(path, (landed, landed))
        written += int(hi - lo)
        size += path.stat().st_size
    return {"rows": written, "events": events, "bytes": size, "files": len(ends)}
