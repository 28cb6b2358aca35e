"""Throttled progress lines a person can follow: ``312/1000 workbooks, 1 skipped``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class ProgressLog:
    """Logs progress when another ``step`` of the total is done or ``interval`` seconds have passed.

    :param total: the number of items.
    :param logger: where to log.
    :param what: the items' name, e.g. ``"workbooks"``.
    :param interval: the most seconds between two lines while work goes on.
    :param step: log whenever this share of ``total`` is newly done.
    :param clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        total: int,
        logger: logging.Logger,
        *,
        what: str = "workbooks",
        interval: float = 5.0,
        step: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.logger = logger
        self.what = what
        self.interval = interval
        self.step_size = max(1, int(total * step)) if total else 1
        self.clock = clock
        self.lines = 0
        self._next_step = self.step_size
        self._last_time = clock()
        self._last_done = -1

    def update(self, done: int, skipped: int = 0) -> None:
        """Report ``done`` items (``skipped`` of them skipped); logs only when a line is due.

        :param done: items finished so far.
        :param skipped: items finished as skipped so far.
        """
        now = self.clock()
        finished = done >= self.total
        if done == self._last_done:
            return
        if not (finished or done >= self._next_step or now - self._last_time >= self.interval):
            return
        self._emit(done, skipped)
        self._last_time = now
        self._last_done = done
        while self._next_step <= done:
            self._next_step += self.step_size

    def _emit(self, done: int, skipped: int) -> None:
        self.lines += 1
        self.logger.info("%d/%d %s, %d skipped", done, self.total, self.what, skipped)
