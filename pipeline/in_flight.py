"""What the local engine waits on: page and image futures, and a queue their completions land in.

``concurrent.futures.wait`` walks every future it is given, each time: with a GPU's thousands of
images in flight that is a millisecond per completion, spent in the engine's one thread. Here each
future puts itself on a queue when done, so waiting costs what finished, not what is in flight.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future
from typing import Any

from pipeline.page_stage import DiscoveredPage
from pipeline.stages import Prepared
from records import ImageRecord
from state.store import UrlRow


class InFlight:
    """The page and image futures of one audit, with their rows and records."""

    def __init__(self) -> None:
        self.pages: dict[Future[DiscoveredPage], UrlRow] = {}
        self.images: dict[Future[list[Prepared | None]], list[ImageRecord]] = {}
        self.images_in_flight = 0  # records in the image futures
        self._finished: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()

    def add_page(self, future: Future[DiscoveredPage], row: UrlRow) -> None:
        """A page in the page stage."""
        self.pages[future] = row
        future.add_done_callback(self._finished.put)

    def add_images(self, future: Future[list[Prepared | None]], records: list[ImageRecord]) -> None:
        """Images in the image stage as one task (its result: one outcome per record, in order)."""
        self.images[future] = records
        self.images_in_flight += len(records)
        future.add_done_callback(self._finished.put)

    def take_images(self, future: Future[list[Prepared | None]]) -> list[ImageRecord]:
        """The records of an image task that ended, no longer in flight."""
        records = self.images.pop(future)
        self.images_in_flight -= len(records)
        return records

    def watch(self, future: Future[Any]) -> None:
        """Any other future whose end should wake :meth:`wait` (a caption batch)."""
        future.add_done_callback(self._finished.put)

    def wait(self) -> list[Future[Any]]:
        """Block until a future ends; every future that ended since the last call (a watched one
        possibly handled already: the caller checks)."""
        finished = [self._finished.get()]
        while True:
            try:
                finished.append(self._finished.get_nowait())
            except queue.Empty:
                return finished
