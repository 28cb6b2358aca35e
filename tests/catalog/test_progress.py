"""Progress lines: every 10% or every interval seconds, never more often."""

from __future__ import annotations

import logging

from airflow_sigma.catalog.progress import ProgressLog


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_logs_every_tenth_and_the_end(caplog):
    clock = FakeClock()
    progress = ProgressLog(1000, logging.getLogger("test.progress"), interval=5.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for done in range(1, 1001):
            progress.update(done, skipped=done // 500)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "100/1000 workbooks, 0 skipped"
    assert lines[4] == "500/1000 workbooks, 1 skipped"
    assert lines[-1] == "1000/1000 workbooks, 2 skipped"
    assert len(lines) == 10


def test_logs_after_the_interval_between_steps(caplog):
    clock = FakeClock()
    progress = ProgressLog(1000, logging.getLogger("test.progress"), interval=5.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        progress.update(3)
        clock.now = 4.9
        progress.update(4)
        clock.now = 5.0
        progress.update(5)
        progress.update(6)
        clock.now = 9.9
        progress.update(7)
        clock.now = 10.0
        progress.update(7)
        clock.now = 30.0
        progress.update(7)  # nothing new since the last line: no line
    assert [r.getMessage() for r in caplog.records] == [
        "5/1000 workbooks, 0 skipped",
        "7/1000 workbooks, 0 skipped",
    ]


def test_small_totals_log_each_item(caplog):
    progress = ProgressLog(3, logging.getLogger("test.progress"), clock=FakeClock())
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for done in (1, 2, 3):
            progress.update(done)
    assert progress.lines == 3
