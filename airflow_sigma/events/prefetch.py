"""Produce the next batches in a background thread while the caller consumes the current ones.

pyarrow releases the GIL while it parses and computes, and so do database drivers while they execute,
so reading piece ``n + 1`` overlaps with writing piece ``n``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_POLL_SECONDS = 0.1
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(source: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``source`` in a worker thread, keeping up to ``depth`` items ready.

    Exceptions from ``source`` are re-raised to the caller. When the caller stops early (``close()`` or
    garbage collection of the generator), the worker stops after its current item.

    :param source: the iterator to run ahead; it is only ever touched by the worker thread.
    :param depth: items produced ahead of the consumer.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="sigma-events-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                break
            if isinstance(item, _Failure):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()
        worker.join()
