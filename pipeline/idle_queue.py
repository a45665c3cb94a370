"""Idle worker processes handed to the threads that wait for one, page discoveries first.

A page thread holds one of its host's few page slots (``per_host_pages``, 2 by default) while it
waits for a worker; behind a first-come queue it waited for every image thread ahead of it (34-51
ms a page, against 3.5 ms of work, with 2 workers and 8 image threads), so pages, which feed every
image after them, were discovered far slower than the workers could read their images
(docs/PERFORMANCE.md, "Pages first"). Here a waiting page thread gets the next idle worker; image
threads share what pages leave, one woken per worker (never all of them: a wake-up costs the
parent's GIL).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class IdleQueue(Generic[T]):
    """Idle items (workers); ``get(urgent=True)`` is served before any waiting ``get(urgent=False)``."""

    def __init__(self) -> None:
        self._idle: deque[T] = deque()
        self._lock = threading.Lock()
        self._urgent = threading.Condition(self._lock)
        self._other = threading.Condition(self._lock)
        self._urgent_waiting = 0

    def put(self, item: T) -> None:
        """An item is idle again: wake one waiter, urgent first."""
        with self._lock:
            self._idle.append(item)
            self._wake_one()

    def get(self, urgent: bool = False) -> T:
        """An idle item, waiting for one; urgent callers before the others."""
        with self._lock:
            if urgent:
                self._urgent_waiting += 1
                try:
                    while not self._idle:
                        self._urgent.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                while not self._idle or self._urgent_waiting:
                    self._other.wait()
            item = self._idle.popleft()
            if self._idle:  # more idle than the one woken took: pass the turn on
                self._wake_one()
            return item

    def _wake_one(self) -> None:
        (self._urgent if self._urgent_waiting else self._other).notify()
